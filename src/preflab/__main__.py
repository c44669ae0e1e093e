from preflab.cli import main

main()
