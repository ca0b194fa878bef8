// A third-party v1 scheduler client against the Mesos emulator: the
// Node.js mesos-framework library (tobilg/mesos-framework 0.5.3), which
// reads the event stream one RecordIO record per HTTP chunk. Run by
// TestMesosFrameworkNodeClient: node session.js HOST PORT. It subscribes,
// runs a short command task to TASK_FINISHED and a long one, reconciles
// (explicitly, implicitly and an unknown task), kills the long one and
// tears down; it exits non-zero with what it saw at the first surprise.
"use strict";
var mf = require("mesos-framework");
var Mesos = mf.Mesos.getMesos();

var host = process.argv[2], port = process.argv[3];
var seen = [];
function fail(why) {
    console.error("FAIL: " + why + "\nupdates: " + seen.join("\n  "));
    process.exit(1);
}
function command(cmd) { return new Mesos.CommandInfo(null, null, true, cmd, null, null); }

var agentOf = {}, stage = "start", longID = null;
var scheduler = new mf.Scheduler({
    masterUrl: host, port: port, frameworkName: "mesos-framework-session",
    logging: { level: "warn", path: process.cwd(), fileName: "mesos-framework.log" },
    restartStates: [],
    tasks: {
        quick: { priority: 1, instances: 1, commandInfo: command("sleep 0.2"), resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 } },
        long: { priority: 2, instances: 1, commandInfo: command("sleep 1000"), resources: { cpus: 0.1, mem: 32, ports: 0, disk: 0 } }
    },
    handlers: {
        UPDATE: function (update) {
            var st = update.status, id = st.task_id.value;
            var what = id.split(".")[1] + " " + st.state + " " + st.source + " " + (st.reason || "-") + " " + (st.message || "");
            seen.push(what);
            if (st.agent_id) { agentOf[id] = st.agent_id.value; }
            if (st.uuid) { this.acknowledge(update); }
            advance(id, st);
        },
        ERROR: function (ev) { fail("ERROR event " + JSON.stringify(ev)); }
    }
});
scheduler.on("error", function (e) { if (stage !== "done") { fail("client error: " + (e.message || JSON.stringify(e))); } });
scheduler.on("ready", function () { scheduler.subscribe(); });

var quickDone = false, longRunning = false;
function advance(id, st) {
    var name = id.split(".")[1] || id;
    if (name.indexOf("quick") === 0 && st.state === "TASK_FINISHED") {
        if (st.source !== "SOURCE_EXECUTOR" || st.message !== "Command exited with status 0") { fail("quick finished as " + st.source + " " + st.message); }
        quickDone = true;
    }
    if (name.indexOf("long") === 0 && st.state === "TASK_RUNNING" && !st.reason) { longRunning = true; longID = id; }
    switch (stage) {
    case "start":
        if (quickDone && longRunning) { stage = "explicit"; scheduler.reconcile(longID, agentOf[longID]); }
        break;
    case "explicit":
        if (id === longID && st.reason === "REASON_RECONCILIATION") {
            if (st.state !== "TASK_RUNNING" || st.source !== "SOURCE_MASTER") { fail("explicit reconciliation: " + st.state + " " + st.source); }
            stage = "implicit"; scheduler.reconcile();
        }
        break;
    case "implicit":
        if (id === longID && st.reason === "REASON_RECONCILIATION") {
            if (st.state !== "TASK_RUNNING") { fail("implicit reconciliation: " + st.state); }
            stage = "kill"; scheduler.kill(longID, agentOf[longID]);
        }
        break;
    case "kill":
        if (id === longID && st.state === "TASK_KILLED") {
            stage = "unknown"; scheduler.reconcile("nope", agentOf[longID]);
        }
        break;
    case "unknown":
        if (id === "nope") {
            // Not PARTITION_AWARE: an unknown task on a registered agent is LOST.
            if (st.state !== "TASK_LOST" || st.reason !== "REASON_RECONCILIATION") { fail("unknown task: " + st.state + " " + st.reason); }
            stage = "done";
            scheduler.teardown();
            setTimeout(function () { console.log("mesos-framework: all good"); process.exit(0); }, 200);
        }
        break;
    }
}
setTimeout(function () { fail("timed out in stage " + stage); }, 30000);
