from imghost.cli import main

main()
