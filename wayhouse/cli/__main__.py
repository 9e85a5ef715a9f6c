from wayhouse.cli.main import app

app()
