from chunkwise.cli import main

main()
