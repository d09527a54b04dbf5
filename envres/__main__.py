from envres._cli import main

main()
