#!/usr/bin/python3
"""A ScreenCast portal *backend* for tests (org.freedesktop.impl.portal.ScreenCast,
version 4), to stand behind the real xdg-desktop-portal frontend on a machine
without a GPU.

Why not xdg-desktop-portal-wlr: on a compositor without a DRM device (wlroots'
pixman renderer) xdpw 0.7 refuses every Start ("unable to receive a valid format
from wlr_screencopy", upstream issue emersion/xdg-desktop-portal-wlr#289), and
GNOME's and KDE's backends need their compositors and a person to click.

What it does, as a desktop's backend would:
- Start "asks the user" unless SelectSources brought restore_data the frontend
  found for a restore token: each ask appends a line to ASKED_FILE;
- the chosen "screen" is the PipeWire video source named NODE_NAME (the test
  publishes it); its node id goes back as the stream;
- when persist_mode > 0 it returns restore_data, which the frontend turns into a
  restore token for the application.

- if CLOSE_FILE exists when a cast starts, it holds a number of seconds: the file
  is removed and the session is closed from the desktop's side after that long
  (the Closed signal), as a desktop's own "stop sharing" control would.

Usage: screencast_backend.py BUS_NAME NODE_NAME ASKED_FILE CLOSE_FILE
"""

import json
import os
import subprocess
import sys
import time

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

IMPL = "org.freedesktop.impl.portal.ScreenCast"
SESSION = "org.freedesktop.impl.portal.Session"
PROPS = "org.freedesktop.DBus.Properties"
VENDOR = "parley-test"

bus_name, node_name, asked_file, close_file = sys.argv[1:5]


def find_node(name, within=10.0):
    """The PipeWire node id whose node.name is NAME (polls pw-dump)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        out = subprocess.run(["pw-dump"], capture_output=True, text=True).stdout
        try:
            objects = json.loads(out or "[]")
        except json.JSONDecodeError:
            objects = []
        for o in objects:
            props = (o.get("info") or {}).get("props") or {}
            if o.get("type") == "PipeWire:Interface:Node" and props.get("node.name") == name:
                return o["id"]
        time.sleep(0.1)
    raise RuntimeError(f"no PipeWire node {name}")


class Session(dbus.service.Object):
    def __init__(self, conn, path):
        super().__init__(conn, path)
        self.restored = False
        self.persist_mode = 0

    @dbus.service.method(SESSION, in_signature="", out_signature="")
    def Close(self):
        self.remove_from_connection()

    @dbus.service.signal(SESSION, signature="")
    def Closed(self):
        pass

    def close_from_desktop(self):
        print("closing the session from the desktop's side", file=sys.stderr, flush=True)
        self.Closed()
        self.remove_from_connection()
        return GLib.SOURCE_REMOVE


class ScreenCast(dbus.service.Object):
    def __init__(self, conn):
        super().__init__(conn, "/org/freedesktop/portal/desktop")
        self.conn = conn
        self.sessions = {}

    @dbus.service.method(IMPL, in_signature="oosa{sv}", out_signature="ua{sv}")
    def CreateSession(self, handle, session_handle, app_id, options):
        self.sessions[str(session_handle)] = Session(self.conn, session_handle)
        return dbus.UInt32(0), dbus.Dictionary({}, signature="sv")

    @dbus.service.method(IMPL, in_signature="oosa{sv}", out_signature="ua{sv}")
    def SelectSources(self, handle, session_handle, app_id, options):
        s = self.sessions[str(session_handle)]
        s.persist_mode = int(options.get("persist_mode", 0))
        data = options.get("restore_data")
        s.restored = bool(data) and str(data[0]) == VENDOR
        return dbus.UInt32(0), dbus.Dictionary({}, signature="sv")

    @dbus.service.method(IMPL, in_signature="oossa{sv}", out_signature="ua{sv}")
    def Start(self, handle, session_handle, app_id, parent_window, options):
        s = self.sessions[str(session_handle)]
        if not s.restored:
            with open(asked_file, "a") as f:
                f.write("asked\n")
        try:
            node = find_node(node_name)
        except RuntimeError as e:
            print(e, file=sys.stderr, flush=True)
            return dbus.UInt32(2), dbus.Dictionary({}, signature="sv")
        stream = dbus.Struct((dbus.UInt32(node), dbus.Dictionary({
            "source_type": dbus.UInt32(1),
            "position": dbus.Struct((dbus.Int32(0), dbus.Int32(0))),
        }, signature="sv")))
        results = {"streams": dbus.Array([stream], signature="(ua{sv})")}
        if s.persist_mode:
            results["persist_mode"] = dbus.UInt32(min(s.persist_mode, 2))
            results["restore_data"] = dbus.Struct(
                (VENDOR, dbus.UInt32(1), dbus.String("the card", variant_level=1)))
        if os.path.exists(close_file):
            with open(close_file) as f:
                secs = float(f.read())
            os.remove(close_file)
            GLib.timeout_add(int(secs * 1000), s.close_from_desktop)
        print(f"started node {node} restored={s.restored}", file=sys.stderr, flush=True)
        return dbus.UInt32(0), dbus.Dictionary(results, signature="sv")

    @dbus.service.method(PROPS, in_signature="ss", out_signature="v")
    def Get(self, interface, prop):
        return self.GetAll(interface)[prop]

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return dbus.Dictionary({
            "AvailableSourceTypes": dbus.UInt32(1),
            "AvailableCursorModes": dbus.UInt32(1),
            "version": dbus.UInt32(4),
        }, signature="sv")


DBusGMainLoop(set_as_default=True)
conn = dbus.SessionBus()
service = ScreenCast(conn)
_name = dbus.service.BusName(bus_name, conn)
print("ready", file=sys.stderr, flush=True)
GLib.MainLoop().run()
