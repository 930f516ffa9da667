from mvm import workload


@workload(
    "review-oci",
    image="oci:ghcr.io/acme/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
)
class ReviewOci:
    pass
