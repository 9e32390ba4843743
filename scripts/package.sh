#!/bin/bash
# `npm run package`: release/netevd_<version>_<arch>.deb and release/netevd-<version>-linux-<arch>.tar.gz
# from this tree (built by `npm ci`), with dpkg-deb only: no packaging dependency from npm.
# The tree installed on a host:
#   /usr/lib/netevd/{bin/{netevd,package.json},dist/{netevd.cjs,netevd-dbus.cjs,netevd-yaml.cjs},page/,build/Release/{netevd_native.node,netevd-hookexec},package.json}
#   (the dependencies are bundled into dist/*.cjs by scripts/bundle.mjs: no node_modules)
#   /usr/bin/netevd -> ../lib/netevd/bin/netevd
#   /usr/lib/systemd/system/netevd*.service|socket, /usr/lib/sysusers.d/netevd.conf,
#   /usr/lib/tmpfiles.d/netevd.conf, /usr/share/polkit-1/rules.d/50-netevd.rules,
#   man pages, shell completion, /etc/netevd/netevd.yaml (conffile), /etc/netevd/<event>.d/
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
out=${NETEVD_RELEASE_DIR:-$root/release}
# the addon as the sources say (a pull may have changed native/ since npm ci); not while the test
# suite runs from this tree (NETEVD_PACKAGE_KEEP_BUILD=1: rebuilding would pull it from under them)
addon=build/Release/netevd_native.node
if [[ ! -f $addon ]] || { [[ -z ${NETEVD_PACKAGE_KEEP_BUILD:-} ]] && [[ -n $(find native binding.gyp -newer "$addon" -print -quit) ]]; }; then
    npx --no-install node-gyp rebuild >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# compiled into the staging area, never over the tree's dist/ (tests may be running from it)
npx --no-install tsc -p tsconfig.json --outDir "$work/dist" --sourceMap false
node scripts/bundle.mjs --dist "$work/dist"
stage=$work/root
lib=$stage/usr/lib/netevd
install -d "$lib/bin" "$lib/dist" "$lib/page" "$lib/build/Release" "$stage/usr/bin"
install -m 0755 bin/netevd "$lib/bin/netevd"
install -m 0644 bin/package.json "$lib/bin/package.json"
install -m 0644 "$work/dist/netevd.cjs" "$work/dist/netevd-dbus.cjs" "$work/dist/netevd-yaml.cjs" "$lib/dist/"
# the web page's static files (plain JS/CSS/HTML, not compiled)
install -m 0644 src/api/page/* "$lib/page/"
install -m 0644 build/Release/netevd_native.node "$lib/build/Release/"
# the hook launcher (native/hookexec.c): every hook runs under it
install -m 0755 build/Release/netevd-hookexec "$lib/build/Release/"
# the version and the package root (src/package-root.ts)
install -m 0644 package.json "$lib/"
ln -s ../lib/netevd/bin/netevd "$stage/usr/bin/netevd"

install -d "$stage/usr/lib/systemd/system" "$stage/usr/lib/sysusers.d" "$stage/usr/lib/tmpfiles.d" \
    "$stage/usr/share/polkit-1/rules.d" "$stage/usr/share/man/man8" "$stage/usr/share/man/man5" \
    "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
    "$stage/usr/share/doc/netevd/examples"
for unit in systemd/netevd*.service systemd/netevd*.socket; do
    [[ -e $unit ]] && install -m 0644 "$unit" "$stage/usr/lib/systemd/system/"
done
install -m 0644 packaging/sysusers.conf "$stage/usr/lib/sysusers.d/netevd.conf"
install -m 0644 packaging/tmpfiles.conf "$stage/usr/lib/tmpfiles.d/netevd.conf"
install -m 0644 config/netevd-polkit.rules "$stage/usr/share/polkit-1/rules.d/50-netevd.rules"
gzip -9n < packaging/man/netevd.8 > "$stage/usr/share/man/man8/netevd.8.gz"
gzip -9n < packaging/man/netevd.yaml.5 > "$stage/usr/share/man/man5/netevd.yaml.5.gz"
install -m 0644 packaging/completion/netevd.bash "$stage/usr/share/bash-completion/completions/netevd"
install -m 0644 packaging/completion/_netevd "$stage/usr/share/zsh/vendor-completions/_netevd"
install -m 0644 README.md "$stage/usr/share/doc/netevd/"
install -m 0644 LICENSE "$stage/usr/share/doc/netevd/copyright"
install -m 0644 "$work/dist/THIRD-PARTY-LICENSES" "$stage/usr/share/doc/netevd/"
install -m 0644 config/netevd.example.yaml "$stage/usr/share/doc/netevd/examples/"
install -d "$stage/usr/share/doc/netevd/examples/monitoring"
install -m 0644 packaging/monitoring/* "$stage/usr/share/doc/netevd/examples/monitoring/"
install -d -m 0755 "$stage/etc/netevd"
install -m 0644 config/netevd.example.yaml "$stage/etc/netevd/netevd.yaml"
# the common events' hook directories (the full list: README, "Hook scripts")
for ev in carrier no-carrier link-added link-removed address-added address-removed routes mtu \
          routable degraded off configured failed manager activated disconnected; do
    install -d -m 0755 "$stage/etc/netevd/$ev.d"
done

# the tarball: the same tree plus an install script that does what the .deb's postinst does
mkdir -p "$out"
tarname=netevd-$version-linux-$arch
tdir=$work/$tarname
mkdir -p "$tdir"
cp -a "$stage" "$tdir/root"
install -m 0755 packaging/install.sh "$tdir/install.sh"
install -m 0644 README.md "$tdir/"
tar -C "$work" --owner=0 --group=0 --numeric-owner -czf "$out/$tarname.tar.gz" "$tarname"

install -d "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control.in > "$stage/DEBIAN/control"
echo /etc/netevd/netevd.yaml > "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/debian/$s" "$stage/DEBIAN/$s"; done
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/netevd_${version}_${arch}.deb" >/dev/null
echo "$out/netevd_${version}_${arch}.deb"
echo "$out/$tarname.tar.gz"
