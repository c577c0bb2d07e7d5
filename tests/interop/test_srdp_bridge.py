"""The SRDP bridge: an `srdp-bridge` worker reaches a simulated SRDP adapter
(`srdpdevice.py`) over a pseudo terminal and over UDP; Autobahn clients read and write
its registers of every type through `<prefix>.<device>.<path>.read|write`, receive its
CHANGE events on `.on_change`, get WAMP errors for ERR replies and silence, and the
bridge survives garbage, a bad CRC, and the terminal closed and opened again."""

import asyncio
import json
import struct
import subprocess
import time

import pytest
from autobahn.wamp.exception import ApplicationError

from conftest import RINGBAR_BIN, router_config
from srdpdevice import EDS_FILES, Device, SerialAdapter, UdpAdapter
from wampclient import close_all, connect, run

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.ringbar_only(reason="Crossbar.io has no SRDP bridge"),
]

T = 15  # seconds the bridge may take to join and discover, or to reconnect
LAB = "com.example.lab"
UDP = "com.example.udp"


@pytest.fixture
def eds_dir(tmp_path):
    folder = tmp_path / "eds"
    folder.mkdir()
    for name, eds in EDS_FILES.items():
        (folder / name).write_text(json.dumps(eds))
    return folder


@pytest.fixture
def serial(tmp_path):
    adapter = SerialAdapter(Device(), str(tmp_path / "tty")).plug()
    yield adapter
    if adapter.master is not None:
        adapter.unplug()


@pytest.fixture
def udp():
    adapter = UdpAdapter(Device())
    yield adapter
    adapter.close()


def with_bridges(eds_dir, serial, udp):
    def make(ws_port, rs_port):
        config = router_config(ws_port, rs_port)
        common = {"router": {"realm": "realm1"}, "eds": str(eds_dir), "timeout_ms": 300}
        config["workers"].append(
            {
                "type": "srdp-bridge",
                "id": "lab",
                "transport": {"type": "serial", "port": serial.link, "baudrate": 115200},
                "prefix": LAB,
                "devices": {"1": "adapter", "2": "board"},
                **common,
            }
        )
        config["workers"].append(
            {
                "type": "srdp-bridge",
                "id": "udp",
                "transport": {"type": "udp", "host": "127.0.0.1", "port": udp.port},
                "prefix": UDP,
                **common,
            }
        )
        return config

    return make


async def discovered(client, prefix, devices=2):
    """The bridge's device list, once it is registered and has found `devices`."""
    deadline = time.monotonic() + T
    while True:
        try:
            found = await client.call(f"{prefix}.devices")
            if len(found) == devices:
                return found
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure":
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{prefix}: no {devices} devices within {T} s")
        await asyncio.sleep(0.1)


async def error_of(call):
    with pytest.raises(ApplicationError) as raised:
        await call
    return raised.value


def test_every_register_type_reads_and_writes(router_factory, eds_dir, serial, udp):
    router = router_factory(make_config=with_bridges(eds_dir, serial, udp))

    async def body():
        client = await connect(router, "ws", "json")
        devices = await discovered(client, LAB)
        adapter, board = devices
        assert (adapter["name"], adapter["eds"]) == ("adapter", "urn:ringbar:test:adapter")
        assert adapter["uuid"] == "550e8400-e29b-41d4-a716-446655440000"
        assert board["label"] == "Test board"
        uris = {r["uri"] for r in board["registers"]}
        assert f"{LAB}.board.light.color.rgb" in uris

        b = f"{LAB}.board"
        assert await client.call(f"{b}.light.color.rgb.read") == {"red": 16, "green": 32, "blue": 48}
        assert await client.call(f"{b}.light.flashrate.read") == 2.5
        assert await client.call(f"{b}.offset.read") == -300
        assert await client.call(f"{b}.samples.read") == [1, 2, 3, 65535]
        assert await client.call(f"{b}.name.read") == "board"
        assert await client.call(f"{b}.memory.read") == [i % 256 for i in range(200)]
        assert await client.call(f"{b}.log.read") == "boot ok; " * 12
        assert await client.call(f"{LAB}.adapter.system.devices.read") == [2, 0]

        await client.call(f"{b}.light.color.rgb.write", {"red": 1, "green": 2, "blue": 3})
        await client.call(f"{b}.light.flashrate.write", 0.25)
        await client.call(f"{b}.offset.write", -7)
        await client.call(f"{b}.samples.write", [4, 5, 6, 7])
        long_name = "ringbar ✓ " * 10
        await client.call(f"{b}.name.write", long_name)
        await client.call(f"{b}.memory.write", [255 - i % 256 for i in range(200)])
        assert await client.call(f"{b}.light.color.rgb.read") == {"red": 1, "green": 2, "blue": 3}
        assert await client.call(f"{b}.light.flashrate.read") == 0.25
        assert await client.call(f"{b}.offset.read") == -7
        assert await client.call(f"{b}.samples.read") == [4, 5, 6, 7]
        assert await client.call(f"{b}.name.read") == long_name
        assert await client.call(f"{b}.memory.read") == [255 - i % 256 for i in range(200)]
        registers = serial.device.registers
        assert bytes(registers[(2, 1029)]) == bytes(255 - i % 256 for i in range(200))
        # The long register moved in frames by position, at most 69 bytes each.
        reads = [(f[5], f[6]) for f in serial.device.frames if f[4] == 1029 and f[1] == 1]
        assert reads[-3:] == [(0, 69), (69, 69), (138, 62)]

        # The same device over UDP, named by index.
        await discovered(client, UDP)
        assert await client.call(f"{UDP}.2.samples.read") == [1, 2, 3, 65535]
        await client.call(f"{UDP}.2.offset.write", 12)
        assert await client.call(f"{UDP}.2.offset.read") == 12
        await close_all([client])

    run(body(), timeout=T * 3)


def test_change_events_are_published(router_factory, eds_dir, serial, udp):
    router = router_factory(make_config=with_bridges(eds_dir, serial, udp))

    async def body():
        client = await connect(router, "rs", "msgpack")
        await discovered(client, LAB)
        await discovered(client, UDP)
        events = asyncio.Queue()
        await client.subscribe(lambda v: events.put_nowait(("lab", v)), f"{LAB}.board.button.on_change")
        await client.subscribe(lambda v: events.put_nowait(("udp", v)), f"{UDP}.2.button.on_change")
        await client.subscribe(lambda v: events.put_nowait(("rgb", v)), f"{LAB}.board.light.color.rgb.on_change")
        serial.send(serial.device.change(2, 1030, struct.pack("<IB", 1234, 0)))
        assert await asyncio.wait_for(events.get(), T) == ("lab", {"time": 1234, "state": 0})
        udp.send(udp.device.change(2, 1030, struct.pack("<IB", 99, 1)))
        assert await asyncio.wait_for(events.get(), T) == ("udp", {"time": 99, "state": 1})
        # A CHANGE of part of a register: the bridge reads the whole and publishes it.
        serial.send(serial.device.change(2, 1024, b"\x7f", pos=1))
        assert await asyncio.wait_for(events.get(), T) == ("rgb", {"red": 16, "green": 127, "blue": 48})
        # Each CHANGE was acknowledged with its sequence number.
        acks = [f for f in serial.device.frames if f[0] == 2 and f[1] == 3]
        assert [a[3] for a in acks] == [1, 2]
        await close_all([client])

    run(body(), timeout=T * 3)
    status = json.loads(
        subprocess.run(
            [RINGBAR_BIN, "status", str(router.dir), "--json"],
            capture_output=True,
            check=True,
            timeout=10,
        ).stdout
    )
    lab = next(b for b in status["bridges"] if b["id"] == "lab")
    assert (lab["joined"], lab["srdp_links"], lab["srdp_changes"]) == (1, 1, 2)


def test_errors_garbage_and_bad_crcs(router_factory, eds_dir, serial, udp):
    router = router_factory(make_config=with_bridges(eds_dir, serial, udp))

    async def body():
        client = await connect(router, "ws", "cbor")
        await discovered(client, LAB)
        b = f"{LAB}.board"
        # ERR -3 from the device (the EDS has the register, the device does not).
        error = await error_of(client.call(f"{b}.missing.read"))
        assert error.error == "ringbar.srdp.error.no_such_register"
        assert "ERR -3" in error.args[0]
        # A value that does not fit, a register that cannot be written, an unknown URI.
        error = await error_of(client.call(f"{b}.offset.write", 40000))
        assert error.error == "wamp.error.invalid_argument"
        assert "out of range for int16" in error.args[0]
        error = await error_of(client.call(f"{b}.button.write", 1))
        assert error.error == "wamp.error.no_such_procedure"
        # Garbage before a reply: the bridge resynchronises.
        serial.device.garbage_before_next = b"\xff\x00\x13garbage\x81"
        assert await client.call(f"{b}.offset.read") == -300
        # A reply with a bad CRC is dropped: the call times out, the next works.
        serial.device.corrupt_next = True
        error = await error_of(client.call(f"{b}.offset.read"))
        assert error.error == "ringbar.srdp.error.timeout"
        assert await client.call(f"{b}.offset.read") == -300
        # Garbage over UDP is dropped the same way.
        udp.send(b"not a frame")
        await discovered(client, UDP)
        assert await client.call(f"{UDP}.2.offset.read") == -300
        await close_all([client])

    run(body(), timeout=T * 3)


def test_an_unplugged_device_comes_back(router_factory, eds_dir, serial, udp):
    router = router_factory(make_config=with_bridges(eds_dir, serial, udp))

    async def body():
        client = await connect(router, "ws", "json")
        await discovered(client, LAB)
        serial.unplug()
        deadline = time.monotonic() + T
        while "adapter on serial line" not in router.log() or " lost (" not in router.log():
            assert time.monotonic() < deadline, router.log()[-3000:]
            await asyncio.sleep(0.1)
        error = await error_of(client.call(f"{LAB}.board.offset.read"))
        assert error.error == "ringbar.srdp.error.link_down"
        serial.plug()
        await discovered(client, LAB)
        assert await client.call(f"{LAB}.board.offset.read") == -300
        log = router.log()
        assert log.count(f"adapter on serial line {serial.link} (115200 baud) connected; 2 devices") == 2, log[-3000:]
        assert log.count("lost (") == 1, log[-3000:]
        await close_all([client])

    run(body(), timeout=T * 3)


def test_check_reports_eds_errors_with_their_path(tmp_path, eds_dir):
    broken = dict(EDS_FILES["board.json"])
    broken["registers"] = broken["registers"] + [
        {"index": 1024, "path": "/again", "access": "read", "type": "uint8"}
    ]
    (eds_dir / "board.json").write_text(json.dumps(broken))
    config = router_config(1, 2)
    config["workers"].append(
        {
            "type": "srdp-bridge",
            "router": {"realm": "realm1"},
            "transport": {"type": "serial", "port": "/dev/ttyACM0"},
            "eds": str(eds_dir),
            "prefix": LAB,
        }
    )
    node = tmp_path / "node"
    node.mkdir()
    (node / "config.json").write_text(json.dumps(config))
    checked = subprocess.run([RINGBAR_BIN, "check", str(node)], capture_output=True, text=True, timeout=30)
    assert checked.returncode != 0
    out = checked.stdout + checked.stderr
    assert "workers[1].eds" in out, out
    assert "index 1024 is also the index of" in out, out
