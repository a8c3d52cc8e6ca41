from gemini_oauth._cli import main

main()
