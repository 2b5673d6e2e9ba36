// How large a row slice each single-threaded sgemm task should take (HoneTensor/Matmul.swift).
// Every task packs its whole weight again, so larger slices pack less; fewer tasks balance the
// threads worse. This runs one linear layer's forward, then its backward (weight-gradient
// tasks first, then input-gradient tasks, as Matmul.backward orders them), on the products of
// config A or B (M = 2048 rows both), with 1 or 2 threads claiming tasks from a shared counter, as
// Hone's worker pool does. The slice sizes are interleaved and each keeps its fastest of 10
// rounds: this machine's speed drifts by more than the differences measured.
//
//   cc -O2 bench/matmul_slices.c -o .build/matmul_slices -lopenblas -lpthread
//   .build/matmul_slices A 1; .build/matmul_slices A 2; .build/matmul_slices B 1; …
#define _GNU_SOURCE
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern void openblas_set_num_threads(int);

enum { M = 2048, ROUNDS = 10 };
typedef struct { int K, N, rows, weightRows; } Layer;

static float *X, *W, *Y, *dY, *dW;
static Layer cur;
static int backward, tasks;
static atomic_int next;
static pthread_barrier_t barrier;

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int min(int a, int b) { return a < b ? a : b; }

static void task(int t) {
    const int K = cur.K, N = cur.N;
    if (!backward) {  // Y[rows] = X[rows] · Wᵀ
        int m = t * cur.rows;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, min(cur.rows, M - m), N, K, 1, X + (long)m * K, K, W, K, 0, Y + (long)m * N, N);
        return;
    }
    int weightTasks = (N + cur.weightRows - 1) / cur.weightRows;
    if (t < weightTasks) {  // dW[n rows] += dY[:, n]ᵀ · X
        int n = t * cur.weightRows;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, min(cur.weightRows, N - n), K, M, 1, dY + n, N, X, K, 1, dW + (long)n * K, K);
    } else {  // dX[rows] = dY[rows] · W
        int m = (t - weightTasks) * cur.rows;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, min(cur.rows, M - m), K, N, 1, dY + (long)m * N, N, W, K, 0, Y + (long)m * K, K);
    }
}

static int threads;
static void work(void) { int t; while ((t = atomic_fetch_add(&next, 1)) < tasks) task(t); }
static void *helper(void *unused) { (void)unused; for (;;) { pthread_barrier_wait(&barrier); work(); pthread_barrier_wait(&barrier); } return 0; }
static void runTasks(int n) {
    tasks = n; atomic_store(&next, 0);
    if (threads == 2) { pthread_barrier_wait(&barrier); work(); pthread_barrier_wait(&barrier); } else work();
}

static double layerSeconds(Layer l) {
    cur = l;
    double t = now();
    backward = 0; runTasks((M + l.rows - 1) / l.rows);
    backward = 1; runTasks((l.N + l.weightRows - 1) / l.weightRows + (M + l.rows - 1) / l.rows);
    return now() - t;
}

int main(int argc, char **argv) {
    const char *config = argc > 1 ? argv[1] : "A";
    threads = argc > 2 ? atoi(argv[2]) : 1;
    openblas_set_num_threads(1);
    long most = (long)M * 8192;
    X = malloc(4 * most); W = malloc(4 * most); Y = malloc(4 * most); dY = malloc(4 * most); dW = malloc(4 * most);
    srand(1);
    for (long i = 0; i < most; i++) { X[i] = rand() / (float)RAND_MAX - 0.5f; W[i] = 0.3f * X[i]; dY[i] = X[i]; dW[i] = 0; }
    if (threads == 2) { pthread_t t; pthread_barrier_init(&barrier, 0, 2); pthread_create(&t, 0, helper, 0); }
    // Per layer: q, k, v, o (d → d), gate, up (d → 3d), down (3d → d); the head (d → vocab) once.
    // A: d 256, 4 layers, vocab 4096; B: d 512, 8 layers, vocab 8192. K, N, times per step:
    const int a[][3] = {{256, 256, 4 * 4}, {256, 768, 2 * 4}, {768, 256, 4}, {256, 4096, 1}};
    const int b[][3] = {{512, 512, 4 * 8}, {512, 1536, 2 * 8}, {1536, 512, 8}, {512, 8192, 1}};
    const int (*shapes)[3] = config[0] == 'B' ? b : a;
    const int slices[][2] = {{128, 128}, {256, 256}, {512, 512}, {256, 512}};
    double best[4][4];
    for (int s = 0; s < 4; s++) for (int c = 0; c < 4; c++) best[s][c] = 1e30;
    for (int round = 0; round < ROUNDS; round++)
        for (int s = 0; s < 4; s++)
            for (int c = 0; c < 4; c++) {
                double t = layerSeconds((Layer){shapes[s][0], shapes[s][1], slices[c][0], slices[c][1]});
                if (t < best[s][c]) best[s][c] = t;
            }
    for (int c = 0; c < 4; c++) {
        double seconds = 0, flops = 0;
        for (int s = 0; s < 4; s++) { seconds += shapes[s][2] * best[s][c]; flops += shapes[s][2] * 6.0 * M * shapes[s][0] * shapes[s][1]; }
        printf("{\"bench\":\"matmul_slices\",\"config\":\"%s\",\"threads\":%d,\"rows\":%d,\"weight_rows\":%d,\"step_matmul_s\":%.4f,\"gflops\":%.1f}\n",
               config[0] == 'B' ? "B" : "A", threads, slices[c][0], slices[c][1], seconds, flops / seconds / 1e9);
    }
    return 0;
}
