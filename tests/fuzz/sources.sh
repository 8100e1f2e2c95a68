# The project sources each fuzz target is built from (relative to the
# source tree), for run-fuzz.sh and coverage.sh. Sourced, not run.
fuzz_device_sources="qemu-integration/virtio-gpu/vgpu.c qemu-integration/virtio-gpu/vgpu-resource.c
  qemu-integration/virtio-gpu/vgpu-scanout.c qemu-integration/virtio-gpu/vgpu-reply.c
  qemu-integration/virtio-gpu/vgpu-parse.c
  qemu-integration/virtio-gpu/renderer.c qemu-integration/virtio-gpu/edid.c
  qemu-integration/virtio-gpu/qemu-display.c qemu-integration/virtio-gpu/record.c
  qemu-integration/virtio-gpu/ratelimit.c qemu-integration/virtio-gpu/diff.c
  qemu-integration/vhost-user/vhost-user.c
  qemu-integration/vhost-user/virtq.c qemu-integration/vhost-user/guest-mem.c common/sock.c"

fuzz_sources() { # target
  case "$1" in
  fuzz-vgpu-parse) echo qemu-integration/virtio-gpu/vgpu-parse.c ;;
  fuzz-vgpu-device | fuzz-vhost-user) echo "$fuzz_device_sources" ;;
  fuzz-spice-protocols) echo spice-gl/agent-protocol.c spice-gl/stream-protocol.c ;;
  esac
}
