"""Social threads: roots derived from reply chains (messages_from_social in jobs/transforms/silver.py)."""

from datetime import datetime, timedelta

from pyspark.sql import SparkSession
from pyspark.sql.types import StructField, StructType

from voicelake.jobs.transforms.silver import messages_from_social
from voicelake.schemas import SOURCES, SPARK_TYPES

T0 = datetime(2026, 1, 5, 9, 0)


def post(post_id: str, reply_to: str | None, role: str, hours: float, customer: str | None = None,
         thread: str | None = None) -> dict:
    return {"post_id": post_id, "in_reply_to": reply_to, "thread_id": thread, "author_role": role,
            "author_handle": "Support" if role == "agent" else f"user-{customer}", "customer_id": customer,
            "posted_at": T0 + timedelta(hours=hours), "text": f"post {post_id}"}


def test_thread_roots_follow_reply_chains(spark: SparkSession) -> None:
    posts = [
        # a chain over three days, customer id only on the customer's posts
        post("a1", None, "customer", 0, "C1"), post("a2", "a1", "agent", 1),
        post("a3", "a2", "customer", 50, "C1"), post("a4", "a3", "agent", 51),
        # the root b0 is not in the export: the earliest reachable post is the root
        post("b2", "b0", "customer", 3, "C2"), post("b1", "b0", "customer", 2, "C2"),
        post("b3", "b1", "agent", 4),
        # thread_id given: kept as it is
        post("c1", None, "customer", 5, "C3", thread="c1"), post("c2", None, "agent", 6, thread="c1"),
        # a reply chain 40 posts deep
        *[post(f"d{i:02d}", f"d{i - 1:02d}" if i else None, "agent" if i % 2 else "customer", 7 + i / 10,
               None if i % 2 else "C4") for i in range(40)],
    ]
    fields = [StructField(f.name, SPARK_TYPES[f.type]) for f in SOURCES["social_posts"].fields]
    df = spark.createDataFrame([tuple(p.get(f.name) for f in fields) for p in posts], StructType(fields))
    got = {r["message_id"]: (r["conversation_id"], r["customer_id"])
           for r in messages_from_social(df).collect()}
    expected = {
        **{f"social:a{i}": ("social:a1", "C1") for i in range(1, 5)},
        **{f"social:b{i}": ("social:b1", "C2") for i in range(1, 4)},
        "social:c1": ("social:c1", "C3"), "social:c2": ("social:c1", "C3"),
        **{f"social:d{i:02d}": ("social:d00", "C4") for i in range(40)},
    }
    assert got == expected
