from fercomp.cli import main

main()
