from towngrid.cli import main

main()
