"""Flask with the extensions Debian packages, as a small app uses them:
Flask-Login (login, remember-me cookie, login_required), Flask-WTF (a form
with its CSRF token), Flask-SQLAlchemy on sqlite, Flask-Caching, Flask-CORS,
Flask-BasicAuth, Flask-HTTPAuth, Flask-Compress and Flask-RESTful
(tests/test_vs_gunicorn.py serves it under gunicorn and under wsgihost).

REALAPP_DB names this server's sqlite file; POST /reset empties the tables
and the cache, so the same request sequence gives the same answers again."""
import os

from flask import Flask, jsonify, redirect, render_template_string, request, url_for
from flask_basicauth import BasicAuth
from flask_caching import Cache
from flask_compress import Compress
from flask_cors import CORS, cross_origin
from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth
from flask_login import (LoginManager, UserMixin, current_user, login_required, login_user,
                         logout_user)
from flask_restful import Api, Resource, abort as restful_abort, reqparse
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, NumberRange

app = Flask(__name__)
app.config.update(
    SECRET_KEY="test-only-secret",
    SQLALCHEMY_DATABASE_URI="sqlite:///" + os.environ.get("REALAPP_DB", "/nonexistent/db"),
    CACHE_TYPE="SimpleCache",
    BASIC_AUTH_USERNAME="admin", BASIC_AUTH_PASSWORD="hunter2",
    COMPRESS_MIN_SIZE=200,
)
db = SQLAlchemy(app)
cache = Cache(app)
Compress(app)
CORS(app, resources={r"/cors/*": {"origins": ["https://front.test"]}}, supports_credentials=True)
basic_auth = BasicAuth(app)
httpauth = HTTPBasicAuth()
tokenauth = HTTPTokenAuth(scheme="Bearer")
login_manager = LoginManager(app)
login_manager.login_view = "login"


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(80), nullable=False)
    stars = db.Column(db.Integer, default=0)


with app.app_context():
    db.create_all()


class User(UserMixin):
    def __init__(self, uid):
        self.id = uid


@login_manager.user_loader
def load_user(uid):
    return User(uid) if uid in ("ann", "bo") else None


@httpauth.verify_password
def verify_password(user, password):
    return user if (user, password) == ("ann", "pw") else None


@tokenauth.verify_token
def verify_token(token):
    return "bot" if token == "t0k3n" else None


@app.post("/reset")
def reset():
    db.session.query(Note).delete()
    db.session.commit()
    cache.clear()
    COUNTER["n"] = 0
    return "reset\n"


# Flask-Login ------------------------------------------------------------------
@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        user = load_user(request.form.get("user", ""))
        if not user:
            return "no such user\n", 403
        login_user(user, remember=request.form.get("remember") == "1")
        return redirect(request.args.get("next") or url_for("me"))
    return "login page\n"


@app.get("/me")
@login_required
def me():
    return jsonify(user=current_user.id, authenticated=current_user.is_authenticated)


@app.get("/logout")
def logout():
    logout_user()
    return redirect(url_for("login"))


# Flask-WTF + Flask-SQLAlchemy ----------------------------------------------------
class NoteForm(FlaskForm):
    title = StringField("title", validators=[DataRequired()])
    stars = IntegerField("stars", validators=[NumberRange(0, 5)])


FORM_PAGE = """<form method="post">{{ form.csrf_token }}{{ form.title }}{{ form.stars }}</form>
{% for field, errs in form.errors.items() %}<p>{{ field }}: {{ errs|join(', ') }}</p>{% endfor %}"""


@app.route("/notes/new", methods=["GET", "POST"])
def new_note():
    form = NoteForm()
    if form.validate_on_submit():
        note = Note(title=form.title.data, stars=form.stars.data)
        db.session.add(note)
        db.session.commit()
        return redirect(url_for("note", nid=note.id))
    return render_template_string(FORM_PAGE, form=form), 400 if request.method == "POST" else 200


@app.get("/notes/<int:nid>")
def note(nid):
    n = db.get_or_404(Note, nid)
    return jsonify(id=n.id, title=n.title, stars=n.stars)


@app.get("/notes")
def notes():
    rows = db.session.execute(db.select(Note).order_by(Note.id)).scalars()
    return jsonify([{"id": n.id, "title": n.title} for n in rows])


# Flask-Caching ---------------------------------------------------------------------
COUNTER = {"n": 0}


@app.get("/cached")
@cache.cached(timeout=300, query_string=True)
def cached():
    COUNTER["n"] += 1
    return jsonify(computation=COUNTER["n"], q=request.args.get("q"))


@app.get("/memo/<int:x>")
def memo(x):
    return jsonify(square=square(x))


@cache.memoize(300)
def square(x):
    return x * x


# Flask-CORS ------------------------------------------------------------------------
@app.route("/cors/data", methods=["GET", "PUT"])
def cors_data():
    return jsonify(cors=True, method=request.method)


@app.get("/cors-route")
@cross_origin(origins="*", expose_headers=["X-Total"])
def cors_route():
    return jsonify(ok=True), 200, {"X-Total": "3"}


# Flask-BasicAuth, Flask-HTTPAuth ---------------------------------------------------
@app.get("/basic")
@basic_auth.required
def basic():
    return "basic ok\n"


@app.get("/httpauth")
@httpauth.login_required
def httpauth_view():
    return jsonify(user=httpauth.current_user())


@app.get("/token")
@tokenauth.login_required
def token_view():
    return jsonify(user=tokenauth.current_user())


# Flask-Compress --------------------------------------------------------------------
@app.get("/big-text")
def big_text():
    return "\n".join(f"row {i}: " + "lorem ipsum " * 5 for i in range(300))


# Flask-RESTful ---------------------------------------------------------------------
api = Api(app, prefix="/rest")
TODOS = {"1": "write tests", "2": "compare servers"}
parser = reqparse.RequestParser()
parser.add_argument("task", type=str, required=True, help="task is required")


class Todo(Resource):
    def get(self, tid):
        if tid not in TODOS:
            restful_abort(404, message=f"todo {tid} does not exist")
        return {"id": tid, "task": TODOS[tid]}

    def put(self, tid):
        args = parser.parse_args()
        return {"id": tid, "task": args["task"]}, 201


class TodoList(Resource):
    def get(self):
        return [{"id": k, "task": v} for k, v in sorted(TODOS.items())]


api.add_resource(TodoList, "/todos")
api.add_resource(Todo, "/todos/<tid>")
