/* Adding an existing resource to a lease (Leases.AddResource).
 *
 * A local adapter until runtime/containerd/containerd.h offers it: the
 * client's content write checks Content.Info first and skips blobs that are
 * present, and Snapshots.Stat does the same for unpacked layers, so neither
 * takes a lease reference on what it found. Something present but held by
 * nothing (the leftovers of a removed image or a failed import, awaiting
 * the garbage collector) could then be collected in the middle of an import.
 * Adding it to the import's lease closes that window. */
#include "github.com/containerd/containerd/api/services/leases/v1/leases.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "runtime/containerd/internal.h"
#include "runtime/image/lease.h"

int kk_image_lease_add(struct kk_ctd *c, const char *ns, const char *lease, const char *type,
                       const char *id, kk_error **err)
{
    Containerd__Services__Leases__V1__Resource res =
            CONTAINERD__SERVICES__LEASES__V1__RESOURCE__INIT;
    Containerd__Services__Leases__V1__AddResourceRequest req =
            CONTAINERD__SERVICES__LEASES__V1__ADD_RESOURCE_REQUEST__INIT;
    res.id = (char *)id;
    res.type = (char *)type;
    req.id = (char *)lease;
    req.resource = &res;
    if (ctd_unary(c, ns, CTD_SVC("leases.v1.Leases/AddResource"), &req.base,
                  &google__protobuf__empty__descriptor, NULL, err) < 0)
        return kk_error_wrap(err, "lease %s: add %s %s", lease, type, id);
    return 0;
}
