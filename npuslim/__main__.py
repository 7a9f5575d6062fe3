from npuslim.cli import main

main()
