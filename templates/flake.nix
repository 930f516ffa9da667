# mvm's built-in template root filesystems, buildable offline: the flake has no inputs and needs no
# nixpkgs. `mvmctl build` builds `packages.x86_64-linux.<template>` from here; see docs/nix.md.
#
# The one thing a flake without nixpkgs cannot conjure is a first executable, so the builder is the
# host's static busybox (Debian's busybox-static), imported by content: `builtins.path` with a fixed
# hash is allowed in pure evaluation and fails when the host's binary is not byte for byte the pinned
# one, so a different busybox is noticed instead of silently changing the rootfs. The build itself
# runs in Nix's sandbox, seeing only that pinned store path.
#
# Template `python-3.11` is deliberately absent: an interpreter cannot be built honestly without
# nixpkgs or a network, so the runtime makes that one with mmdebstrap instead.
{
  description = "mvm template root filesystems (offline, no inputs)";

  outputs = { self }:
    let
      system = "x86_64-linux";

      # Debian 12 has merged /usr, so busybox-static's /bin/busybox is the file /usr/bin/busybox.
      # Importing the directory filtered down to that one file (rather than the file alone) gives the
      # builder a path whose last component is `busybox`: Nix starts a builder with argv[0] set to
      # that component, and busybox picks its applet by argv[0].
      # Pin: `nix hash path` of a directory holding only a copy of the binary (busybox-static
      # 1:1.35.0-4+deb12u1+b1, file sha256 3d9f2889d6782537624a4e1a10e68a2ddd53e0ee8bac02676f27308f42ec6bf6).
      busyboxStatic = builtins.path {
        name = "busybox-static";
        path = /usr/bin;
        filter = path: type: path == "/usr/bin/busybox";
        sha256 = "sha256-9CPbx+I+g28afJMSdqpzyncWktW6aBdLNMcrnyFqyCE=";
      };

      # A root filesystem the launcher can pivot into: busybox and its applet links (relative, so
      # they resolve inside the tree wherever it is mounted), minimal account files, and the empty
      # mount points the launcher and the guest agent use.
      busyboxRootfs = derivation {
        name = "mvm-rootfs-busybox";
        inherit system;
        builder = "${busyboxStatic}/busybox";
        bb = "${busyboxStatic}/busybox";
        args = [
          "sh"
          "-eu"
          "-c"
          ''
            mkdir -p $out/bin $out/sbin $out/usr/bin $out/usr/sbin $out/etc $out/root \
              $out/proc $out/dev $out/sys $out/tmp $out/run/mvm $out/.mvm $out/app
            cp $bb $out/bin/busybox
            for applet in $($bb --list-full); do
              case $applet in
                bin/busybox) ;;
                bin/*|sbin/*) ln -s ../bin/busybox $out/$applet ;;
                usr/bin/*|usr/sbin/*) ln -s ../../bin/busybox $out/$applet ;;
                *) ;; # linuxrc: no init script here, the launcher starts the sandbox's init
              esac
            done
            printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
              > $out/etc/passwd
            printf 'root:x:0:\nnogroup:x:65534:\n' > $out/etc/group
            $out/bin/sh -c 'test "$(echo ok)" = ok'
          ''
        ];
      };
    in
    {
      packages.${system}.busybox = busyboxRootfs;
    };
}
