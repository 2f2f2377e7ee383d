"""Run with the Argilla server's own Python (its virtual environment), never imported by r1-factory.

Registers the SQLite search engine, then runs one of: ``serve HOST PORT`` (the FastAPI app under
uvicorn) or ``worker`` (an rq worker for the server's background jobs). Both need the engine
registered in their own process, which is why both start here.
"""

import sys

import sqlite_search  # noqa: F401  (registers the "sqlite" engine with argilla_server)


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        import uvicorn

        uvicorn.run("argilla_server:app", host=argv[1], port=int(argv[2]), access_log=False, log_level="warning")
    elif argv[:1] == ["worker"]:
        from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
        from rq import Worker

        Worker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION).work(with_scheduler=False)
    else:
        sys.exit("usage: server_main.py serve HOST PORT | worker")


if __name__ == "__main__":
    main(sys.argv[1:])
