import ArgumentParser
import HoneStages

Hone.main()
