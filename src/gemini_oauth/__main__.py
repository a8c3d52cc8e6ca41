from gemini_oauth.cli import main

main()
