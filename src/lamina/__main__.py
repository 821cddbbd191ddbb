from lamina.cli.entry import main

main()
