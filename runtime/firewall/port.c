/* Port specs: "[hostIP:]hostPort:containerPort[/tcp|udp]". */
#include "runtime/firewall/firewall.h"

#include <arpa/inet.h>
#include <string.h>

static int parse_port(const char *s, size_t len, uint16_t *out)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int kk_fw_port_parse(const char *spec, struct kk_fw_port *out, kk_error **err)
{
    struct kk_fw_port p = {.proto = KK_FW_TCP};
    size_t len = strnlen(spec, KK_FW_PORT_SPEC_MAX + 1);
    if (len == 0 || len > KK_FW_PORT_SPEC_MAX)
        return kk_error_set(err, KK_E_INVALID, "port \"%.*s\": empty or too long", 16, spec);

    char buf[KK_FW_PORT_SPEC_MAX + 1];
    memcpy(buf, spec, len + 1);

    char *proto = strchr(buf, '/');
    if (proto) {
        *proto++ = '\0';
        if (strcmp(proto, "tcp") == 0)
            p.proto = KK_FW_TCP;
        else if (strcmp(proto, "udp") == 0)
            p.proto = KK_FW_UDP;
        else
            return kk_error_set(err, KK_E_INVALID, "port \"%s\": protocol must be tcp or udp",
                                spec);
    }

    /* The container port follows the last ':', the host port the one before;
     * whatever precedes that is the host address. */
    char *c2 = strrchr(buf, ':');
    if (!c2)
        return kk_error_set(err, KK_E_INVALID,
                            "port \"%s\": expected [hostIP:]hostPort:containerPort[/tcp|udp]",
                            spec);
    *c2 = '\0';
    char *c1 = strrchr(buf, ':');
    const char *host_port = c1 ? c1 + 1 : buf;
    if (parse_port(c2 + 1, strlen(c2 + 1), &p.container_port) < 0 ||
        parse_port(host_port, strlen(host_port), &p.host_port) < 0)
        return kk_error_set(err, KK_E_INVALID, "port \"%s\": ports are 1..65535", spec);

    if (c1) {
        *c1 = '\0';
        struct in_addr a;
        if (inet_pton(AF_INET, buf, &a) != 1)
            return kk_error_set(err, KK_E_INVALID, "port \"%s\": host IP must be IPv4", spec);
        /* 0.0.0.0 is docker's spelling of "every address". */
        if (a.s_addr != htonl(INADDR_ANY))
            inet_ntop(AF_INET, &a, p.host_ip, sizeof(p.host_ip));
    }
    *out = p;
    return 0;
}
