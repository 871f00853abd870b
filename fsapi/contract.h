/* The contract shared by kukeond and kuke (docs/design.md): the names the
 * agent puts on containerd objects and on specs, the reserved names of the
 * state tree, and the size limits of the files both sides read. One copy
 * here, so the agent and the CLI can never disagree on them.
 *
 * Changing a label or annotation name breaks adoption of what an older agent
 * created: treat them as an on-host file format.
 */
#ifndef KUKEON_CONTRACT_H
#define KUKEON_CONTRACT_H

/* ---- names -------------------------------------------------------------- */

/* Longest name of a realm, space, stack, cell or container: 1-63 of
 * [a-z0-9-], alphanumeric at both ends (docs/design.md §1). */
#define KK_NAME_MAX 63

/* containerd's identifiers (namespaces, container ids): at most 76
 * characters, letters and digits with single '.', '_' or '-' between them.
 * A container's id is "<space>_<stack>_<cell>_<container>", so validation
 * refuses names whose id would not fit, and "--" in any name. */
#define KK_CTD_ID_MAX 76

#define KK_API_VERSION  "v1beta1"
#define KK_DEFAULT_NAME "default"

/* Annotation the agent puts on a spec it materialised from an inbox file:
 * the file's name. Metadata is not part of the spec hash, so moving a
 * resource between inbox files does not change its hash. */
#define KK_ANNOTATION_SOURCE "kukeon.io/source"

/* Labels on every containerd container the agent creates: where it belongs,
 * the hash of the container spec it was made from, and its role in the cell
 * ("root" or the container's id). */
#define KK_LABEL_REALM      "kukeon.io/realm"
#define KK_LABEL_SPACE      "kukeon.io/space"
#define KK_LABEL_STACK      "kukeon.io/stack"
#define KK_LABEL_CELL       "kukeon.io/cell"
#define KK_LABEL_CONTAINER  "kukeon.io/container"
#define KK_LABEL_HASH       "kukeon.io/hash"
#define KK_LABEL_ROLE       "kukeon.io/role"
#define KK_LABEL_SHIM_GROUP "io.containerd.runc.v2.group" /* one runc shim per cell */

/* ---- default locations (kukeond.yaml and kuke's flags override them) ---- */

#define KK_DEFAULT_STATE_DIR          "/opt/kukeon"
#define KK_DEFAULT_MANIFESTS_DIR      "/etc/kukeon/manifests"
#define KK_DEFAULT_CONTAINERD_ADDRESS "/run/containerd/containerd.sock"
#define KK_DEFAULT_RUN_DIR            "/run/kukeon"
#define KK_DEFAULT_SUBNET_POOL        "10.77.0.0/16"
/* Host-global names: tests and second instances choose their own. */
#define KK_DEFAULT_CGROUP_ROOT   "kukeon"
#define KK_DEFAULT_BRIDGE_PREFIX "kkb"
#define KK_DEFAULT_NFT_TABLE     "kukeon"
/* Realm r lives in containerd namespace "<prefix>r" unless its spec names one. */
#define KK_DEFAULT_NAMESPACE_PREFIX "kukeon-"

/* ---- the state tree ----------------------------------------------------- */

/* Reserved top-level entries of the state root (never resource names: they
 * start with '_', which a resource name cannot). */
#define KK_TREE_INBOX_DIRNAME "_inbox"
#define KK_TREE_AGENT_DIRNAME "_agent"
/* Files and directories inside a resource's directory. */
#define KK_TREE_STATUS_NAME "status.yaml"
#define KK_TREE_CTL_NAME    "ctl"
#define KK_TREE_CONTAINERS  "containers"

/* ---- limits ------------------------------------------------------------- */

/* Largest spec file (inbox manifest or tree spec) read. */
#define KK_SPEC_FILE_MAX (1024 * 1024)
/* Largest status.yaml read. */
#define KK_STATUS_FILE_MAX (1024 * 1024)
/* Largest ctl request read: one verb and its argument. */
#define KK_CTL_FILE_MAX 256
/* Containers of one cell (spec.containers). */
#define KK_CELL_CONTAINERS_MAX 64
/* Entries of one tree directory looked at. */
#define KK_TREE_DIR_MAX 4096

#endif
