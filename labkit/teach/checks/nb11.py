"""Checks for notebook 11's exercises (change in production)."""

from __future__ import annotations

from labkit.teach import exercises

DURABLE = "11.1 a topic and a producer that lose nothing"
READER = "11.2 a reader upgraded first"

HINTS = exercises.register_hints({
    DURABLE: "a topic's copies are its replication factor (admin.create_topics takes {name: options}); how "
             "many must hold a write is the topic config min.insync.replicas. The producer's acks says whose "
             "answer it waits for; idempotence stops a retry writing twice",
    READER: "read schema_version before any other field, as the validator does; an event without one is "
            "version 1 (dict.get takes a default). Each version you know says where the speed is and in "
            "which unit (1 m/s is 3.6 km/h); for any other, None",
})

KMH = exercises.optional(exercises.of_type(float, what="a number of km/h"))

#: How far from the right speed an answer may be: float rounding, or a result rounded to the
#: hundredth the cars send; a version-3 speed read without the * 3.6 is off by far more.
TOLERANCE_KMH = 0.01


def _versions(event: dict) -> dict[str, tuple[dict, float | None]]:
    """11.2's cases, built from one version-1 event of the notebook: {case: (event, the speed in
    km/h a reader must return, None for a version it cannot know)}. Each case has its own speed
    (the event's, plus 10 km/h a case), so that no answer fits two cases by chance and the
    version-3 one is never 0, where m/s and km/h agree. Version 3 is the notebook's "version 3,
    speed renamed": `speed_mps`, in metres per second, rounded as the firmware sends it."""
    base = {k: v for k, v in event.items() if k != "schema_version"}
    speed = [round(float(base["speed"]) + 10 * i, 2) for i in range(5)]
    without_speed = {k: v for k, v in base.items() if k != "speed"}
    mps = round(speed[3] / 3.6, 2)
    return {
        "version 1, no schema_version": ({**base, "speed": speed[0]}, speed[0]),
        "version 1, schema_version 1": ({**base, "schema_version": 1, "speed": speed[1]}, speed[1]),
        "version 2": ({**base, "schema_version": 2, "speed": speed[2], "odometer_km": 1234.567, "battery_v": 14.1},
                      speed[2]),
        "version 3, speed_mps in m/s": ({**without_speed, "schema_version": 3, "speed_mps": mps}, mps * 3.6),
        "version 4, unknown, with a speed field": ({**base, "schema_version": 4, "speed": speed[4]}, None),
        "version 4, unknown, with a speed_mps field": ({**without_speed, "schema_version": 4, "speed_mps": mps}, None),
    }


def _close_enough(answer, expected) -> bool:
    both_numbers = exercises.NUMBER.problem(answer) is None and exercises.NUMBER.problem(expected) is None
    return both_numbers and abs(float(answer) - float(expected)) <= TOLERANCE_KMH


@exercises.graded(READER)
def speed_kmh(func, event: dict) -> bool:
    """11.2: the student's reader on `event` (version 1, as the notebook's upgrade sends it) as
    each version it must read (1 without and with `schema_version`, 2, 3 with `speed_mps`)
    and one it must refuse (4, once with a `speed` and once with a `speed_mps`: a reader that
    goes by which field is there, not by the version, reads one of them): each answer within
    TOLERANCE_KMH of the speed, or None for version 4. Each call gets its own copy; an exception or a wrong
    type is reported with the case it happened in."""
    answers, expected = {}, {}
    for case, (version, speed) in _versions(event).items():
        answer = exercises.attempt(func, dict(version))
        if not exercises.expect_type(READER, answer, KMH, case=f"for the {case} event"):
            return False
        answers[case] = speed if _close_enough(answer, speed) else answer
        expected[case] = speed
    if all(answer is None for answer in answers.values()):
        return exercises.wrong(READER, exercises.NONE_RETURNED)
    return exercises.check(READER, answers, expected)


#: What the check asks of the topic and the producer, and why, for its messages.
REPLICAS, MIN_IN_SYNC = 3, "2"
ANYTHING = exercises.Kind("anything", lambda x: True)  # what durable_topic returns is not looked at
PRODUCER = exercises.Kind("a KafkaProducer", lambda x: type(x).__name__ == "KafkaProducer")


def _topic_problem(bootstrap: str, name: str) -> str | None:
    """What is wrong with topic `name` on the cluster, or None: three replicas, and
    min.insync.replicas 2 set on the topic (the brokers' default is Kafka's, 1)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    from labkit.ops import clients
    from labkit.ops.infra.topics import partition_table
    from labkit.ops.waiting import wait_until

    def led() -> list[dict]:
        views = _views(bootstrap, name)
        ok = views and all(rows and all(r["leader"] >= 0 for r in rows) for rows in views)
        return views[0] if ok else []

    # A new topic reaches each broker's metadata a moment after create_topics, and the
    # describe_configs below may ask any of them: wait until every broker that answers has it.
    try:
        rows = wait_until(led, 5, poll_s=0.25, what=f"a leader for {name}")
    except TimeoutError:
        rows = partition_table(bootstrap, [name])
    if not rows:
        return f"there is no topic {name!r} on the cluster after your durable_topic: did it call create_topics?"
    if len(rows) != 1:
        return f"your topic has {len(rows)} partitions; the exercise asks for one"
    replicas = len(rows[0]["replicas"])
    if replicas != REPLICAS:
        return (f"your topic has {replicas} replica(s) per partition; with three brokers, three copies "
                f"let it lose one broker and still have two in sync")
    admin = clients.kafka_admin(bootstrap=bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    own = described.get("topic", {}).get(name, {})  # the settings the topic was given itself
    # Not given: the brokers' default, Kafka's 1 (the lab's brokers keep it).
    min_isr = own.get("min.insync.replicas", {}).get("value", "1")
    if min_isr != MIN_IN_SYNC and int(min_isr) >= REPLICAS:
        return (f"your topic's min.insync.replicas is {min_isr}: with all three copies required, losing any "
                f"one broker stops every write with acks=all; 2 of 3 survives one loss and still takes writes")
    if min_isr != MIN_IN_SYNC:
        return (f"your topic's min.insync.replicas is {min_isr}: with 1, a leader whose followers fell "
                f"behind confirms writes alone, and they die with it; 2 of 3 survives one loss and "
                f"still takes writes")
    if own.get("unclean.leader.election.enable", {}).get("value", "false").lower() == "true":
        return ("your topic sets unclean.leader.election.enable=true: a follower that is out of date may then "
                "become leader, and the confirmed writes it never copied are gone. Leave it at false")
    return None


def _producer_problem(producer, bootstrap: str) -> str | None:
    """What is wrong with the producer's settings, or None."""
    given = producer.config.get("bootstrap_servers")
    given = given.split(",") if isinstance(given, str) else list(given or [])
    if sorted(given) != sorted(bootstrap.split(",")):
        return (f"your producer connects to {','.join(given)}, not to the three brokers it was given "
                f"({bootstrap}): use the `bootstrap` argument")
    if producer.config.get("acks") != -1:
        return (f"your producer's acks is {producer.config.get('acks')!r}: it must wait for every "
                f"in-sync replica (acks=\"all\"), or a leader that dies takes confirmed writes with it")
    if not producer.config.get("enable_idempotence"):
        return ("your producer is not idempotent: a batch retried after a lost answer can be "
                "written twice (enable_idempotence=True)")
    return None


#: The producer settings the lesson is about, written out in the student's code.
WRITTEN_OUT = ("acks", "enable_idempotence")


def _unwritten(make_producer) -> str | None:
    """Which of WRITTEN_OUT `make_producer`'s source does not name (as a keyword or a dict
    key), as a message, or None. A function whose source cannot be read is not held to it."""
    import ast

    tree = exercises.source_tree(make_producer)
    if tree is None:
        return None
    named = {node.arg for node in ast.walk(tree) if isinstance(node, ast.keyword)}
    named |= {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    missing = [setting for setting in WRITTEN_OUT if setting not in named]
    if not missing:
        return None
    return (f"the code of durable_producer does not name {' and '.join(missing)}, so the check takes them "
            f"as left to kafka-python's defaults. Version 3 happens to wait for every in-sync replica and to be "
            f"idempotent, but kafka-python 2 waited for the leader alone and was not idempotent: write "
            f"acks=\"all\" and enable_idempotence=True out in durable_producer itself (the check reads its code)")


@exercises.graded(DURABLE)
def durable(make_topic, make_producer, bootstrap: str, name: str) -> bool:
    """11.1: `make_topic(admin, name)` creates `name` on the three-broker cluster at `bootstrap`
    with three replicas and min.insync.replicas 2; `make_producer(bootstrap)` returns a
    KafkaProducer with acks="all" and idempotence on, both written out in its source (not left
    to the library's defaults), and a message sent with it to the topic is confirmed. What
    the functions return beyond that is not looked at (make_topic may return anything). The
    topic is deleted again; the producer is closed."""
    from labkit.ops import clients

    if not _answers(bootstrap):  # the section's cluster was stopped: a client would wait 30 s to say so
        return exercises.wrong(DURABLE, f"no broker answers at {bootstrap}: run the cell of section 1 that "
                                        "starts the three brokers, then this one again")
    admin = clients.kafka_admin(bootstrap=bootstrap)
    try:
        made = exercises.attempt(make_topic, admin, name)
    finally:
        admin.close()
    if not exercises.expect_type(DURABLE, made, ANYTHING, case="from durable_topic"):
        return False  # the stub, or an exception: reported
    try:
        problem = _topic_problem(bootstrap, name)
        if problem:
            return exercises.wrong(DURABLE, problem)
        producer = exercises.attempt(make_producer, bootstrap)
        if not exercises.expect_type(DURABLE, producer, PRODUCER, case="from durable_producer"):
            return False
        try:
            problem = _producer_problem(producer, bootstrap) or _unwritten(make_producer)
            if problem:
                return exercises.wrong(DURABLE, problem)
            sent = exercises.attempt(lambda: producer.send(name, b"one durable message").get(timeout=30))
            if not exercises.expect_type(DURABLE, sent, ANYTHING, case="sending one message with your producer"):
                return False  # e.g. a transactional producer, which sends only inside a transaction
        finally:
            producer.close()
        return exercises.check(DURABLE, True, True)
    finally:
        _delete(bootstrap, name)


def _answers(bootstrap: str) -> bool:
    """Whether any broker listed in `bootstrap` answers (a closed port says no at once)."""
    from labkit.config import Settings
    from labkit.ops.infra.readiness import broker_answers

    settings = Settings(kafka_bootstrap_servers=bootstrap)  # the lesson's own open brokers: no sign-in
    return any(broker_answers(settings, address) for address in settings.kafka_addresses)


def _views(bootstrap: str, name: str) -> list[list[dict]]:
    """Topic `name`'s partition rows as each broker of `bootstrap` that answers sees them
    (asked one by one: a broker's metadata may be a moment behind another's)."""
    from kafka.errors import KafkaError

    from labkit.ops.infra.topics import partition_table

    views = []
    for address in bootstrap.split(","):
        try:
            views.append(partition_table(address, [name]))
        except KafkaError:
            pass  # that broker is down or starting: the others decide
    return views


def _delete(bootstrap: str, name: str, timeout_s: float = 20.0) -> None:
    """Delete topic `name` and wait until no broker lists it. Deletion is asynchronous, and a
    broker that is electing a controller or restarting (section 1 kills one) refuses for a
    moment: each try is a new client, until `timeout_s`."""
    from kafka.errors import KafkaError

    from labkit.ops import clients
    from labkit.ops.waiting import wait_until

    def gone() -> bool:
        try:
            views = _views(bootstrap, name)
            if views and not any(views):
                return True
            admin = clients.kafka_admin(bootstrap=bootstrap)
            try:
                if name in admin.list_topics():
                    admin.delete_topics([name])
            finally:
                admin.close()
        except KafkaError:
            pass  # try again with a new client
        return False

    wait_until(gone, timeout_s, poll_s=0.5, what=f"topic {name} to be deleted")
