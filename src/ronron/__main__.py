from ronron.cli import main

main()
