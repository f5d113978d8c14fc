"""Customer CSV import, end to end, on a fresh migrated database: PostgreSQL and/or SQLite.

Generates a CSV of realistic Turkish customers (names, cities, DD.MM.YYYY birth dates, Turkish mobile numbers in the
shapes people type, a quarter with tags, a few bad emails and phones), then runs the import through the same code
path as the web page and the API: import_job_upload → import_job_start (guessed mapping, "skip" mode) → the
background task's function (import_job_process.call, what `manage.py db_worker` runs). The time is from the upload
to the job being done; the check (read + validate + match) and write phases are reported too.

    .venv/bin/python bench/import_customers.py --rows 1000000 --db postgresql sqlite

PostgreSQL uses the database kervan_import_bench (dropped and re-created each run); SQLite a file under /tmp.
Writes bench/results/import.json.
"""

import argparse
import csv
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_NAME = "kervan_import_bench"
SQLITE_PATH = "/tmp/kervan_import_bench.sqlite3"
WORK_DIR = Path("/tmp/kervan_import_bench")

FEMALE = (  # noqa: SIM905 - a list of names reads best as text
    "Ayşe Fatma Zeynep Elif Emine Hatice Merve Büşra Esra Özlem Şeyma Gül Derya Sibel Selin İrem Ebru "
    "Cansu Gizem Tuğba Hülya Dilek Nur Sevgi Songül Yasemin Aslı Ceren Damla Ece Pınar Melek Kübra Nazlı "
    "Çiğdem Gökçe Şule Buse Defne Ela Ilgın Işıl Öykü Yağmur Sena Rabia Hacer Filiz Serpil Gülşen "
).split()
MALE = (  # noqa: SIM905 - a list of names reads best as text
    "Mehmet Mustafa Ahmet Ali Hüseyin Hasan İbrahim İsmail Osman Yusuf Murat Ömer Ramazan Halil Süleyman "
    "Abdullah Mahmut Recep Salih Fatih Kadir Emre Burak Serkan Uğur Oğuz Çağrı Barış Cem Can Deniz Efe "
    "Eren Kerem Onur Tolga Volkan Yiğit Şahin Gökhan Ilgaz Ilker İlker Tunç Özgür Görkem Doğan Erdem "
    "Selçuk Berk Arda "
).split()
LAST = (  # noqa: SIM905 - a list of names reads best as text
    "Yılmaz Kaya Demir Şahin Çelik Yıldız Yıldırım Öztürk Aydın Özdemir Arslan Doğan Kılıç Aslan Çetin "
    "Kara Koç Kurt Özkan Şimşek Polat Özcan Korkmaz Çakır Erdoğan Yavuz Can Acar Şen Aktaş Güler Yalçın "
    "Güneş Bozkurt Bulut Keskin Ünal Turan Gül Özer Işık Kaplan Avcı Sarı Tekin Taş Köse Yüksel Ateş "
    "Aksoy Ağaoğlu Ilıcak Uçar Öz Eren Çınar Sönmez Tuncer Erdem Karataş Altun Akgül Başaran Duman "
    "Kalkan Türkmen Işıkgöz Uysal "
).split()
CITIES = (
    ("İstanbul", 18),
    ("Ankara", 7),
    ("İzmir", 5),
    ("Bursa", 4),
    ("Antalya", 3),
    ("Konya", 3),
    ("Adana", 3),
    ("Şanlıurfa", 2),
    ("Gaziantep", 2),
    ("Kocaeli", 2),
    ("Mersin", 2),
    ("Diyarbakır", 2),
    ("Hatay", 2),
    ("Manisa", 2),
    ("Kayseri", 2),
    ("Samsun", 1),
    ("Balıkesir", 1),
    ("Kahramanmaraş", 1),
    ("Van", 1),
    ("Aydın", 1),
    ("Denizli", 1),
    ("Sakarya", 1),
    ("Tekirdağ", 1),
    ("Muğla", 1),
    ("Eskişehir", 1),
    ("Trabzon", 1),
    ("Malatya", 1),
    ("Erzurum", 1),
    ("Ordu", 1),
    ("Çanakkale", 1),
    ("Edirne", 1),
    ("Iğdır", 1),
    ("Kırklareli", 1),
    ("Düzce", 1),
    ("Uşak", 1),
    ("Çorum", 1),
    ("Ağrı", 1),
    ("Bitlis", 1),
    ("", 3),
)
DOMAINS = (
    ("gmail.com", 55),
    ("hotmail.com", 20),
    ("outlook.com", 6),
    ("yahoo.com", 6),
    ("icloud.com", 5),
    ("yandex.com", 3),
    ("mynet.com", 2),
    ("windowslive.com", 1),
    ("superonline.com", 1),
    ("ttmail.com", 1),
)
PREFIXES = [f"5{n:02d}" for n in (*range(1, 8), *range(30, 40), *range(40, 50), *range(50, 56), 61)]
TAGS = ("vip", "toptan", "bülten", "kampanya", "sadık müşteri", "yeni", "kurumsal", "instagram")
HEADER = ("Ad", "Soyad", "E-posta", "Telefon", "Doğum tarihi", "Şehir", "Cinsiyet", "Etiketler")
_ASCII = str.maketrans("çğıöşüÇĞİÖŞÜâî", "cgiosuCGIOSUai")


def csv_file(rows: int, encoding: str = "utf-8", delimiter: str = ",") -> Path:
    """Where the generated CSV of `rows` customers is kept (bench/import_floor.py reads the 1M one too)."""
    return WORK_DIR / f"customers_{rows}_{encoding}_{ord(delimiter)}.csv"


def generate(path: Path, rows: int, seed: int, encoding: str, delimiter: str) -> None:
    rnd = random.Random(seed)
    cities = [c for c, w in CITIES for _ in range(w)]
    domains = [d for d, w in DOMAINS for _ in range(w)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as f:
        out = csv.writer(f, delimiter=delimiter)
        out.writerow(HEADER)
        for i in range(rows):
            female = rnd.random() < 0.52
            first = rnd.choice(FEMALE if female else MALE)
            if rnd.random() < 0.08:
                first = f"{first} {rnd.choice(FEMALE if female else MALE)}"
            last = rnd.choice(LAST)
            local = f"{first.split()[0]}{rnd.choice(('.', '_', ''))}{last}".lower().translate(_ASCII)
            email = f"{local}{i}@{rnd.choice(domains)}"
            number = f"{rnd.choice(PREFIXES)}{(i * 7919 + 12345) % 10_000_000:07d}"
            shape = rnd.random()
            if shape < 0.4:
                phone = f"0{number[:3]} {number[3:6]} {number[6:8]} {number[8:]}"
            elif shape < 0.6:
                phone = f"+90 {number[:3]} {number[3:6]} {number[6:]}"
            elif shape < 0.85:
                phone = number
            else:
                phone = f"0{number}"
            if rnd.random() < 0.001:
                email = email.replace("@", "@@")  # a typo the import must report
            if rnd.random() < 0.001:
                phone = phone[:5]
            if rnd.random() < 0.15:
                phone = ""
            birth = (
                ""
                if rnd.random() < 0.12
                else (f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.{rnd.randint(1950, 2006)}")
            )
            gender = "" if rnd.random() < 0.05 else ("Kadın" if female else "Erkek")
            tags = ", ".join(rnd.sample(TAGS, rnd.randint(1, 2))) if rnd.random() < 0.25 else ""
            out.writerow((first, last, email, phone, birth, rnd.choice(cities), gender, tags))


def fresh_database(db: str) -> str:
    if db == "postgresql":
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
        return f"{PG_SERVER}/{PG_NAME}"
    for suffix in ("", "-wal", "-shm"):
        Path(SQLITE_PATH + suffix).unlink(missing_ok=True)
    return f"sqlite:///{SQLITE_PATH}"


def _backend_pid() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _cpu_seconds(backend: int | None) -> tuple[float, float]:
    """(this process's CPU seconds, the PostgreSQL backend's CPU seconds): unlike wall time, not inflated by other
    work on a shared machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    database = 0.0
    if backend:
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        database = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return usage.ru_utime + usage.ru_stime, database


def run_one(db: str, csv_path: Path) -> dict:
    """Run in a child process per database, so each gets its own settings and connection."""
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, "--child", db, "--csv", str(csv_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(out.stdout + out.stderr)


def child(db: str, csv_path: Path) -> None:
    os.environ["DATABASE_URL"] = fresh_database(db)
    os.environ["KERVAN_VAR_DIR"] = str(WORK_DIR / "var")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.core.files import File
    from django.core.management import call_command

    from kervan.accounts.actors import Actor
    from kervan.accounts.models import User
    from kervan.customers.models import Customer, CustomerStats, Identity
    from kervan.imports.actions import import_job_start, import_job_upload
    from kervan.imports.models import ImportJob
    from kervan.imports.tasks import import_job_process

    timings: dict = {}

    class Capture(logging.Handler):
        def emit(self, record):
            if record.getMessage() == "imports.job_finished":
                timings.update({k: v for k, v in vars(record).items() if k.endswith("_seconds")})

    logging.getLogger("kervan.imports").addHandler(Capture())
    logging.getLogger("kervan.imports").propagate = False
    call_command("migrate", verbosity=0, skip_checks=True)
    user = User.objects.create_user(username="bench", password="x", role="admin")
    actor = Actor.for_user(user)
    backend = _backend_pid()
    cpu_before = _cpu_seconds(backend)
    started = time.perf_counter()
    with open(csv_path, "rb") as f:
        job = import_job_upload(actor=actor, kind="customers", upload=File(f, name=csv_path.name))
    job = import_job_start(actor=actor, job=job, mode="skip")
    uploaded = time.perf_counter() - started
    import_job_process.call(job.pk)
    total = time.perf_counter() - started
    cpu_after = _cpu_seconds(backend)
    job = ImportJob.objects.get(pk=job.pk)

    result = {
        "db": db,
        "seconds": round(total, 2),
        "upload_seconds": round(uploaded, 2),
        "status": job.status,
        "rows": job.total_rows,
        "imported": job.imported,
        "updated": job.updated,
        "skipped": job.skipped,
        "errors": job.error_count,
        "customers": Customer.objects.count(),
        "identities": Identity.objects.count(),
        "stats": CustomerStats.objects.count(),
        **timings,
        "python_cpu_seconds": round(cpu_after[0] - cpu_before[0], 2),
        "database_cpu_seconds": round(cpu_after[1] - cpu_before[1], 2) if backend else None,
        "load_average": os.getloadavg()[0],
    }
    if os.environ.get("BENCH_TWICE"):
        started = time.perf_counter()
        with open(csv_path, "rb") as f:
            again = import_job_upload(actor=actor, kind="customers", upload=File(f, name=csv_path.name))
        again = import_job_start(actor=actor, job=again, mode="skip")
        import_job_process.call(again.pk)
        again = ImportJob.objects.get(pk=again.pk)
        result["again_seconds"] = round(time.perf_counter() - started, 2)
        result["again_unchanged"] = again.unchanged
        result["again_customers"] = Customer.objects.count()
    print("RESULT " + json.dumps(result))


STEPS = (
    "check_seconds",
    "sort_seconds",
    "customers_seconds",
    "identities_seconds",
    "stats_seconds",
    "tags_seconds",
    "indexes_seconds",
    "commit_seconds",
    "python_cpu_seconds",
    "database_cpu_seconds",
    "load_average",
)


def record(recorded: dict, result: dict, args, command: str) -> None:
    db = result["db"]
    data = (
        f"{args.rows:,}-row Turkish customer CSV ({args.encoding}, {args.delimiter!r}): {result['imported']:,} "
        f"customers created with {result['identities']:,} identities and {result['stats']:,} stats rows, "
        f"{result['errors']:,} bad rows reported; fresh database, shared 2-core machine"
    )
    recorded[f"customer CSV import, {args.rows:,} rows, {db}"] = {
        "value": result["seconds"],
        "unit": "s",
        "target": "<= 10 s" if db == "postgresql" else "<= 15 s",
        "data": data,
        "db": db,
        "command": command,
        **{k: result.get(k) for k in STEPS},
    }
    if "again_seconds" in result:
        recorded[f"customer CSV re-import (all rows unchanged), {args.rows:,} rows, {db}"] = {
            "value": result["again_seconds"],
            "unit": "s",
            "target": "",
            "data": f"the same file again: {result['again_unchanged']:,} rows matched by email, nothing written",
            "db": db,
            "command": command,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--encoding", default="utf-8", help="utf-8, utf-8-sig or cp1254 (Turkish Excel)")
    parser.add_argument("--delimiter", default=",")
    parser.add_argument("--csv", type=Path, help="use this file instead of generating one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true", help="do not write bench/results/import.json")
    parser.add_argument("--twice", action="store_true", help="import the same file again (every row unchanged)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv)
        return
    csv_path = args.csv or csv_file(args.rows, args.encoding, args.delimiter)
    if not csv_path.exists():
        t = time.perf_counter()
        generate(csv_path, args.rows, args.seed, args.encoding, args.delimiter)
        print(f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
    results_path = ROOT / "bench" / "results" / "import.json"
    recorded = json.loads(results_path.read_text()) if results_path.exists() else {}
    command = "python bench/import_customers.py " + " ".join(sys.argv[1:])
    if args.twice:
        os.environ["BENCH_TWICE"] = "1"
    for db in args.db:
        result = run_one(db, csv_path)
        print(json.dumps(result, indent=2))
        record(recorded, result, args, command)
    if not args.no_record:
        results_path.parent.mkdir(exist_ok=True)
        results_path.write_text(json.dumps(recorded, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
