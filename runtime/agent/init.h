#ifndef MVM_RUNTIME_AGENT_INIT_H_
#define MVM_RUNTIME_AGENT_INIT_H_

// The agent as a microVM's init (runtime/backends/qemu_microvm): the kernel runs it as /init from
// the initramfs, and it prepares the guest before serving the protocol over virtio-serial.

namespace mvm::runtime::agent {

/// Runs as PID 1 of a microVM and never returns: mounts /dev, /proc and /sys; loads the kernel
/// modules listed in /lib/modules/load-order (the Debian kernel builds virtio and ext4 as modules);
/// mounts the root image (/dev/vda, ext4, read-only) under a read-only overlay and the optional
/// extras image (/dev/vdb: app files, the SDK, copies of read-only volumes, per its `mvm-mounts`
/// manifest); sets the hostname, the workload cgroup (memory and pids limits from the kernel
/// command line) and /tmp; switches root; forks the stream multiplexer onto the `mvm.agent`
/// virtio-serial port; then serves the agent protocol. After a Shutdown request, or when any step
/// fails (the reason goes to the serial console, which the host shows), it powers the VM off.
[[noreturn]] void RunAsVmInit();

}  // namespace mvm::runtime::agent

#endif  // MVM_RUNTIME_AGENT_INIT_H_
