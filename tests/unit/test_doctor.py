"""`labkit doctor` on machines the lab meets: each problem found, and its fix for that system."""

from labkit.ops.doctor import GB, System, diagnose, java_major, problems

JDK17 = 'openjdk version "17.0.9" 2023-10-17\nOpenJDK Runtime Environment (build 17.0.9+9)'
APPLE_STUB = "The operation couldn't be completed. Unable to locate a Java Runtime."
PORTS = {"Kafka": 9092, "Kafka's controller": 9093, "MongoDB": 27017, "the API": 8000}


def machine(**facts) -> System:
    base = dict(os="linux", machine="x86_64", python=(3, 11), java=JDK17, java_runs=True, maven=True,
                memory_free=16 * GB, disk_free=50 * GB, ports=PORTS)
    return System(**{**base, **facts})


def finding(findings, check):
    return next(f for f in findings if f.check == check)


def test_a_ready_linux_machine_has_no_problem():
    findings = diagnose(machine())
    assert problems(findings) == []
    assert {f.level for f in findings} == {"ok"}


def test_apples_java_stub_is_not_a_jdk_and_the_fix_is_brew():
    java = finding(diagnose(machine(os="darwin", machine="arm64", java=APPLE_STUB, java_runs=False)), "java")
    assert java.level == "fail" and "placeholder" in java.detail
    assert java.fix.startswith("brew install openjdk@17") and "JavaVirtualMachines" in java.fix


def test_no_java_on_linux_says_apt_get():
    java = finding(diagnose(machine(java=None, java_runs=False)), "java")
    assert java.level == "fail" and "no Java" in java.detail and "apt-get install openjdk-17" in java.fix


def test_an_old_java_is_named():
    java = finding(diagnose(machine(java='java version "1.8.0_392"')), "java")
    assert java.level == "fail" and "Java 8" in java.detail


def test_native_windows_is_sent_to_wsl():
    system = finding(diagnose(machine(os="windows", machine="AMD64")), "system")
    assert system.level == "fail" and "wsl --install" in system.fix


def test_wsl_is_fine_and_its_fixes_are_apt_get():
    findings = diagnose(machine(wsl=True, maven=False))
    assert finding(findings, "system").level == "ok" and "WSL2" in finding(findings, "system").detail
    assert "apt-get install maven" in finding(findings, "maven").fix


def test_python_310_fails_with_the_way_to_pick_another():
    python = finding(diagnose(machine(python=(3, 10))), "python")
    assert python.level == "fail" and "3.10" in python.detail and "PYTHON=python3.11" in python.fix


def test_a_busy_port_names_the_port_and_how_to_find_its_program():
    findings = diagnose(machine(busy_ports=frozenset({27017})))
    port = finding(findings, "port 27017")
    assert port.level == "fail" and "MongoDB" in port.detail and "ss -ltnp" in port.fix
    mac = finding(diagnose(machine(os="darwin", machine="arm64", busy_ports=frozenset({9092}))), "port 9092")
    assert "lsof" in mac.fix


def test_the_apis_port_in_use_is_only_a_warning():
    assert finding(diagnose(machine(busy_ports=frozenset({8000}))), "port 8000").level == "warn"


def test_memory_3_gb_free_is_tight_and_2_gb_is_too_little():
    tight = finding(diagnose(machine(memory_free=3.2 * GB)), "memory")
    assert tight.level == "warn" and "LAB_MEMORY=small" in tight.fix
    low = finding(diagnose(machine(memory_free=2 * GB)), "memory")
    assert low.level == "fail" and "2.0 GB free" in low.detail and "LAB_MEMORY=small" in low.fix


def test_3_gb_free_is_enough_with_the_small_profile():
    assert finding(diagnose(machine(memory_free=3.2 * GB, memory_profile="small")), "memory").level == "ok"
    low = finding(diagnose(machine(memory_free=2 * GB, memory_profile="small")), "memory")
    assert low.level == "fail" and "LAB_MEMORY" not in low.fix


def test_little_disk_fails():
    assert finding(diagnose(machine(disk_free=1 * GB)), "disk").level == "fail"


def test_the_mongodb_server_is_said_plainly():
    assert finding(diagnose(machine()), "mongodb").level == "ok"
    java_server = finding(diagnose(machine(os="darwin", machine="x86_64", mongo_server="java")), "mongodb")
    assert java_server.level == "warn" and "explain()" in java_server.detail


def test_java_major_reads_both_version_styles():
    assert java_major(JDK17) == 17
    assert java_major('openjdk version "21" 2023-09-19') == 21
    assert java_major('java version "1.8.0_392"') == 8
    assert java_major(APPLE_STUB) is None
