from chatfn.local.cli import app

app(prog_name="chatfn")
