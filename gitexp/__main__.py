from gitexp.cli.app import run

run()
