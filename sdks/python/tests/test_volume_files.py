"""``VolumeFiles`` against the built mvmctl (ctest sets MVM_MVMCTL): an object volume on s3rver
(npm, scripts/bootstrap.sh) started on 127.0.0.1 here, and the API-only encrypted store."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from mvm import SandboxError, SecretRef, VolumeEntry, VolumeFiles
from tests.prerequisite import missing

ROOT = Path(__file__).resolve().parents[3]
S3RVER = ROOT / "third_party/npm/s3rver/node_modules/s3rver/bin/s3rver.js"
MVMCTL = os.environ.get("MVM_MVMCTL")


class VolumeFilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not MVMCTL:
            missing("MVM_MVMCTL is not set (ctest sets it to the built mvmctl)")
        if not S3RVER.exists() or not shutil.which("node"):
            missing("s3rver is not installed; run scripts/bootstrap.sh")
        cls.dir = tempfile.mkdtemp(prefix="mvm-sdk-volumes-")
        cls.state = os.path.join(cls.dir, "state")
        data = os.path.join(cls.dir, "s3rver")
        os.makedirs(data)
        cls.s3 = subprocess.Popen(
            ["node", "--openssl-legacy-provider", str(S3RVER), "-d", data, "-a", "127.0.0.1",
             "-p", "0", "--silent", "--configure-bucket", "sdk-bucket"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        printed = ""
        match = None
        while not match:
            line = cls.s3.stdout.readline()
            if not line:
                cls.s3.kill()
                raise RuntimeError(f"s3rver exited before it listened: {printed!r}")
            printed += line
            match = re.search(r"listening on (\S+)", line)
        cls.endpoint = "http://" + match.group(1)
        subprocess.run([MVMCTL, "secret", "set", "--state-dir", cls.state, "sdk-keys"],
                       input=b"S3RVER:S3RVER", check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.s3.kill()
        cls.s3.wait()
        cls.s3.stdout.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def volumes(self):
        return {
            "object": VolumeFiles.object("s3://sdk-bucket/run-1", endpoint=self.endpoint,
                                         credentials=SecretRef("sdk-keys"), state_dir=self.state,
                                         mvmctl=MVMCTL),
            "encrypted": VolumeFiles.encrypted("sdk-notes", state_dir=self.state, mvmctl=MVMCTL),
        }

    def test_write_read_list_stat_rename_remove(self):
        for kind, files in self.volumes().items():
            with self.subTest(kind):
                blob = bytes(range(256)) * 5000  # 1.25 MB: more than one 1 MiB chunk
                files.write("dir/blob.bin", blob)
                files.write("dir/note.txt", "héllo")
                self.assertEqual(files.read_bytes("dir/blob.bin"), blob)
                self.assertEqual(files.read("dir/note.txt"), "héllo")
                self.assertEqual(files.list("/"), [VolumeEntry("dir", "dir", 0)])
                self.assertEqual(sorted(files.list("dir"), key=lambda e: e.name),
                                 [VolumeEntry("blob.bin", "file", len(blob)),
                                  VolumeEntry("note.txt", "file", 6)])
                self.assertEqual(files.stat("dir/note.txt"), VolumeEntry("note.txt", "file", 6))
                files.rename("dir/note.txt", "dir/renamed.txt")
                self.assertEqual(files.read("dir/renamed.txt"), "héllo")
                with self.assertRaises(SandboxError):
                    files.stat("dir/note.txt")
                with self.assertRaises(SandboxError) as refused:
                    files.remove("dir")
                self.assertIn("not empty", str(refused.exception))
                files.remove("dir", recursive=True)
                self.assertEqual(files.list("/"), [])

    def test_bad_paths_and_credentials_are_refused_clearly(self):
        for kind, files in self.volumes().items():
            with self.subTest(kind):
                with self.assertRaises(SandboxError) as escaped:
                    files.write("../escape", "x")
                self.assertIn("..", str(escaped.exception))
                with self.assertRaises(ValueError):
                    files.read("-r")
        with self.assertRaises(TypeError) as plaintext:
            VolumeFiles.object("s3://sdk-bucket", endpoint=self.endpoint,
                               credentials="S3RVER:S3RVER")  # type: ignore[arg-type]
        self.assertNotIn("S3RVER", str(plaintext.exception))
        wrong = VolumeFiles.object("s3://sdk-bucket", endpoint=self.endpoint,
                                   credentials=SecretRef("no-such-secret"), state_dir=self.state,
                                   mvmctl=MVMCTL)
        with self.assertRaises(SandboxError) as unknown:
            wrong.list()
        self.assertIn("no-such-secret", str(unknown.exception))


if __name__ == "__main__":
    unittest.main()
