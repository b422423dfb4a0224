#!/usr/bin/env python3
"""roomgate.wasm as an OCI image that Istio's and Envoy Gateway's Wasm fetchers accept.

  oci_image.py build WASM LAYOUT       write an OCI image layout (LAYOUT/index.json, blobs/),
                                       print the manifest digest (sha256:…) and write it to
                                       LAYOUT.digest
  oci_image.py roundtrip WASM LAYOUT   push LAYOUT to a registry on 127.0.0.1 (Debian's
                                       docker-registry, started and stopped here) with skopeo,
                                       pull it back by digest, and check it as the fetchers do

The image is what `FROM scratch` + `COPY roomgate.wasm /plugin.wasm` builds: one gzip'ed tar
layer holding `plugin.wasm`, an OCI image config and an OCI manifest. Istio's fetcher (which
Envoy Gateway's reuses) takes the last layer of an image whose config is a Docker or OCI image
config, un-gzips it and reads the tar entry whose base name is `plugin.wasm`. Every byte is
fixed (tar entry owner 0, mode 0644, mtime 0; gzip mtime 0 and no name; JSON with sorted keys),
so the same roomgate.wasm always gives the same digest.

Python's standard library only; the round trip also needs `docker-registry` and `skopeo`.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.request

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# What the fetchers take as an image (then: last layer, tar.gz with plugin.wasm).
IMAGE_CONFIGS = {CONFIG, "application/vnd.docker.container.image.v1+json"}
GZIP_LAYERS = {LAYER, "application/vnd.docker.image.rootfs.diff.tar.gzip"}
ACCEPT = ", ".join([MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"])


def fail(msg):
    print(f"oci_image: {msg}", file=sys.stderr)
    sys.exit(1)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(wasm):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size = len(wasm)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(wasm))
    return buf.getvalue()


def gzipped(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", compresslevel=9, mtime=0) as z:
        z.write(data)
    return buf.getvalue()


def build(wasm_path, layout):
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    if not wasm.startswith(b"\0asm"):
        fail(f"{wasm_path} is not a Wasm module")
    tar = layer_tar(wasm)
    layer = gzipped(tar)
    config = canonical({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
    })
    manifest = canonical({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": LAYER, "digest": sha256(layer), "size": len(layer)}],
    })
    digest = sha256(manifest)
    shutil.rmtree(layout, ignore_errors=True)
    blobs = os.path.join(layout, "blobs", "sha256")
    os.makedirs(blobs)
    for blob in (layer, config, manifest):
        with open(os.path.join(blobs, sha256(blob)[7:]), "wb") as f:
            f.write(blob)
    with open(os.path.join(layout, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST, "digest": digest, "size": len(manifest),
            "annotations": {"org.opencontainers.image.ref.name": "roomgate"},
        }],
    }
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(canonical(index))
    with open(layout.rstrip("/") + ".digest", "w") as f:
        f.write(digest + "\n")
    return digest


def plugin_from_image(get_blob, manifest_bytes):
    """What the fetchers do with a pulled manifest: the Wasm module, or an error."""
    manifest = json.loads(manifest_bytes)
    if manifest.get("config", {}).get("mediaType") not in IMAGE_CONFIGS:
        return None, f"config media type {manifest.get('config', {}).get('mediaType')!r} is not an image config"
    layers = manifest.get("layers") or []
    if not layers:
        return None, "the image has no layer"
    last = layers[-1]
    if last.get("mediaType") not in GZIP_LAYERS:
        return None, f"the last layer is {last.get('mediaType')!r}, not a gzip'ed tar"
    blob = get_blob(last["digest"])
    if sha256(blob) != last["digest"] or len(blob) != last["size"]:
        return None, "the last layer does not match its digest or size"
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob)), mode="r:") as tar:
        for member in tar:
            if member.isfile() and os.path.basename(member.name) == "plugin.wasm":
                extracted = tar.extractfile(member)
                data = extracted.read() if extracted else b""
                if not data.startswith(b"\0asm"):
                    return None, "plugin.wasm is not a Wasm module"
                return data, None
    return None, "the last layer holds no plugin.wasm"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read(), dict(resp.headers)


def roundtrip(wasm_path, layout):
    for tool in ("docker-registry", "skopeo"):
        if not shutil.which(tool):
            fail(f"{tool} is not installed (apt-get install docker-registry skopeo)")
    digest = build(wasm_path, layout)
    again = build(wasm_path, layout)
    if again != digest:
        fail(f"two builds of the same module gave {digest} and {again}")
    with open(wasm_path, "rb") as f:
        wasm = f.read()
    work = tempfile.mkdtemp(prefix="roomgate-registry-")
    port = free_port()
    addr = f"127.0.0.1:{port}"
    config = os.path.join(work, "config.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\n"
            "log: {level: info}\n"
            f"storage: {{filesystem: {{rootdirectory: {work}/data}}}}\n"
            f"http: {{addr: \"{addr}\"}}\n"
        )
    registry = subprocess.Popen(["docker-registry", "serve", config],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # The registry logs "listening on ADDR" once it accepts connections: read its log up to
        # that line (bounded: 200 lines), then keep draining it so it never blocks.
        seen = []
        for _ in range(200):
            line = registry.stderr.readline().decode(errors="replace")
            if not line:
                fail("docker-registry exited: " + "".join(seen))
            seen.append(line)
            if "listening on" in line:
                break
        else:
            fail("docker-registry did not say it listens: " + "".join(seen))
        threading.Thread(target=lambda: registry.stderr.read(), daemon=True).start()
        version = subprocess.run(["docker-registry", "--version"], capture_output=True, text=True).stdout.strip()
        repo = f"{addr}/roomgate"
        skopeo = ["skopeo", "--insecure-policy"]
        subprocess.run(skopeo + ["copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
                                 f"oci:{layout}:roomgate", f"docker://{repo}:test"], check=True)
        # The registry serves the very manifest that was built, under its digest and its tag.
        manifest, headers = http_get(f"http://{addr}/v2/roomgate/manifests/{digest}", ACCEPT)
        if sha256(manifest) != digest or headers.get("Docker-Content-Digest") != digest:
            fail(f"the registry's manifest is {sha256(manifest)}, the built one {digest}")
        _, headers = http_get(f"http://{addr}/v2/roomgate/manifests/test", ACCEPT)
        if headers.get("Docker-Content-Digest") != digest:
            fail(f"the tag resolves to {headers.get('Docker-Content-Digest')}, not {digest}")

        def get_blob(d):
            return http_get(f"http://{addr}/v2/roomgate/blobs/{d}")[0]

        plugin, err = plugin_from_image(get_blob, manifest)
        if err:
            fail(f"a fetcher would refuse the pushed image: {err}")
        if plugin != wasm:
            fail("the pushed image's plugin.wasm differs from " + wasm_path)
        # Pulled back by digest with skopeo, as a client of the registry would.
        pulled = os.path.join(work, "pulled")
        subprocess.run(skopeo + ["copy", "--quiet", "--preserve-digests", "--src-tls-verify=false",
                                 f"docker://{repo}@{digest}", f"oci:{pulled}:roomgate"], check=True)
        with open(os.path.join(pulled, "index.json")) as f:
            pulled_digest = json.load(f)["manifests"][0]["digest"]
        if pulled_digest != digest:
            fail(f"pulled back {pulled_digest}, pushed {digest}")

        def local_blob(d):
            with open(os.path.join(pulled, "blobs", "sha256", d[7:]), "rb") as f:
                return f.read()

        plugin, err = plugin_from_image(local_blob, local_blob(digest))
        if err or plugin != wasm:
            fail(f"the pulled image's plugin.wasm is not {wasm_path}: {err}")
        # A bare one-layer push of the .wasm is what the fetchers refuse: the check does too.
        bare = canonical({"schemaVersion": 2, "mediaType": MANIFEST,
                          "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(b"{}"), "size": 2},
                          "layers": [{"mediaType": "application/wasm", "digest": sha256(wasm), "size": len(wasm)}]})
        if plugin_from_image(lambda d: wasm, bare)[1] is None:
            fail("the fetcher check accepts a bare .wasm layer")
        print(f"oci image {digest}: pushed to and pulled back from {version} "
              f"on {addr} with skopeo; last layer's plugin.wasm = {wasm_path} ({len(wasm)} bytes)")
    finally:
        registry.terminate()
        try:
            registry.wait(timeout=10)
        except subprocess.TimeoutExpired:
            registry.kill()
        shutil.rmtree(work, ignore_errors=True)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("build", "roundtrip"):
        fail(__doc__)
    if argv[1] == "build":
        print(build(argv[2], argv[3]))
    else:
        roundtrip(argv[2], argv[3])


if __name__ == "__main__":
    main(sys.argv)
