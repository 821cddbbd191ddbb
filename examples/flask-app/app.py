"""The tutorial's web application: one page, served by Flask on port 5000."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "Hello from a lamina-built image!\n"


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
