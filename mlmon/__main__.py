from mlmon.cli import main

main()
