# A third-party client against the Jenkins emulator: python-jenkins, as
# Debian packages it (python3-jenkins). Run by TestPythonJenkinsClient with
# the emulator's URL, user and token; exits non-zero at the first surprise.
import sys
import time

import jenkins
import requests

url, user, token = sys.argv[1:4]
s = jenkins.Jenkins(url, username=user, password=token)


def wait(what, cond, limit=30):
    deadline = time.time() + limit
    while not cond():
        if time.time() > deadline:
            raise SystemExit("timed out waiting for " + what)
        time.sleep(0.05)


def status_of(f):
    """The HTTP status a call fails with (python-jenkins lets requests'
    HTTPError through for a 409), None when it succeeds."""
    try:
        f()
    except requests.exceptions.HTTPError as e:
        return e.response.status_code
    return None


JOB = """<?xml version='1.1' encoding='UTF-8'?>
<project><description>%s</description><assignedNode>py</assignedNode><canRoam>false</canRoam>
<builders><hudson.tasks.Shell><command>sleep 1000</command></hudson.tasks.Shell></builders></project>"""

assert s.get_version() == sys.argv[4], s.get_version()
assert s.get_whoami()["id"] == user

s.create_job("pyjob", JOB % "first")
assert s.job_exists("pyjob")
s.reconfig_job("pyjob", JOB % "second")
assert "<description>second</description>" in s.get_job_config("pyjob")
assert s.get_job_info("pyjob")["description"] == "second"

s.create_node("py1", numExecutors=1, nodeDescription="from python", remoteFS="/tmp/py1",
              labels="py", exclusive=True, launcher=jenkins.LAUNCHER_JNLP)
assert s.node_exists("py1")
wait("py1 online", lambda: not s.get_node_info("py1")["offline"])
assert "<label>py</label>" in s.get_node_config("py1")

q = s.build_job("pyjob")
wait("the build to leave the queue", lambda: "executable" in s.get_queue_item(q))
number = s.get_queue_item(q)["executable"]["number"]
assert number == 1, number
assert s.get_build_info("pyjob", 1)["building"]
s.stop_build("pyjob", 1)
info = s.get_build_info("pyjob", 1)
assert info["result"] == "ABORTED" and not info["building"], info
assert "Aborted by " + user in s.get_build_console_output("pyjob", 1)

s.disable_job("pyjob")
assert not s.get_job_info("pyjob")["buildable"]
assert status_of(lambda: s.build_job("pyjob")) == 409, "a disabled job took a build"
s.enable_job("pyjob")
assert s.get_job_info("pyjob")["buildable"]

s.copy_job("pyjob", "pycopy")
assert s.job_exists("pycopy")
s.rename_job("pycopy", "pyrenamed")
assert s.job_exists("pyrenamed") and not s.job_exists("pycopy")
s.delete_job("pyrenamed")
assert not s.job_exists("pyrenamed")

assert [v["name"] for v in s.get_views()] == ["all"]
assert "pyjob" in [j["name"] for j in s.get_jobs(view_name="all")]

s.disable_node("py1", "maintenance")
n = s.get_node_info("py1")
assert n["temporarilyOffline"] and n["offlineCauseReason"] == "maintenance", n
s.enable_node("py1")
assert not s.get_node_info("py1")["temporarilyOffline"]
s.delete_node("py1")
assert not s.node_exists("py1")
print("python-jenkins: all good")
