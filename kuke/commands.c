#include <stddef.h>

#include "kuke/kuke.h"

const struct kuke_command kuke_commands[] = {
        {"apply", "write manifests into the state tree (or --inbox)", kuke_cmd_apply},
        {"get", "list resources and their status", kuke_cmd_get},
        {"delete", "delete resources (their spec files)", kuke_cmd_delete},
        {"create", "create a resource from flags", kuke_cmd_create},
        {"start", "start a stopped cell (ctl)", kuke_cmd_ctl},
        {"stop", "stop a cell; it stays stopped until started (ctl)", kuke_cmd_ctl},
        {"kill", "send a signal to a cell's containers (ctl)", kuke_cmd_ctl},
        {"restart", "restart a cell (ctl)", kuke_cmd_ctl},
        {"pause", "freeze a cell (ctl)", kuke_cmd_ctl},
        {"resume", "thaw a paused cell (ctl)", kuke_cmd_ctl},
        {"logs", "print a container's log", kuke_cmd_logs},
        {"validate", "check manifests offline (file:line:col: errors)", kuke_cmd_validate},
        {"image", "load, list and remove images in containerd", kuke_cmd_image},
        {"doctor", "check this host for kukeond and say what to fix", kuke_cmd_doctor},
        {"describe", "show a resource's spec summary, status and recent events", kuke_cmd_describe},
        {"events", "print (or -w follow) the agent's events for resources", kuke_cmd_events},
        {"exec", "run a command in a running container", kuke_cmd_exec},
        {"attach", "attach the terminal to an attachable container", kuke_cmd_attach},
        {"run", "create (or start) a cell and attach to it", kuke_cmd_run},
        {NULL, NULL, NULL},
};
