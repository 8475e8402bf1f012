from gitexp.cli import run

run()
