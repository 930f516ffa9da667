"""The decorators and helpers are inert: metadata in, the same object out, values immutable."""

import dataclasses
import unittest

import mvm
from mvm import NetworkPolicy, SecretRef, Volume, entrypoint, service, workload


class WorkloadTest(unittest.TestCase):
    def test_function_form_is_returned_unchanged_and_still_runs(self):
        def tiny():
            return "ran"

        decorated = workload("tiny", image="template:python-3.11", cpu=1, memory_mb=256)(tiny)
        self.assertIs(decorated, tiny)
        self.assertEqual(decorated(), "ran")
        self.assertEqual(
            tiny.__mvm__,
            {
                "kind": "workload",
                "name": "tiny",
                "options": {"image": "template:python-3.11", "cpu": 1, "memory_mb": 256},
            },
        )

    def test_class_form_with_members_as_in_the_declaration_spec(self):
        @workload(
            "agent-tool",
            image="nix:./flake#agent-runtime",
            network=NetworkPolicy.deny_by_default().allow_https("api.openai.com").allow_dns(),
            secrets={"OPENAI_API_KEY": SecretRef("openai-api-key", hosts=["api.openai.com"])},
            volumes=[Volume.local("./data", "/data", mode="ro"),
                     Volume.memory("/scratch", size_mb=256)],
        )
        class AgentTool:
            @entrypoint(command=["python", "/app/main.py"])
            def main(self):
                return "main"

            @entrypoint("warmup", command=["python", "/app/warm.py"], timeout_seconds=5)
            def warmup(self):
                return "warmup"

            @service("api", command=["python", "-m", "http.server", "8080"], port=8080)
            def api(self):
                return "api"

        self.assertEqual(AgentTool.__name__, "AgentTool")
        self.assertEqual(AgentTool.__mvm__["kind"], "workload")
        self.assertEqual(AgentTool.__mvm__["name"], "agent-tool")
        options = AgentTool.__mvm__["options"]
        self.assertEqual(options["network"].rules, (("https", "api.openai.com"),))
        self.assertTrue(options["network"].dns)
        self.assertEqual(options["secrets"]["OPENAI_API_KEY"].hosts, ("api.openai.com",))

        self.assertEqual(AgentTool.main.__mvm__, {
            "kind": "entrypoint", "name": "main",
            "options": {"command": ["python", "/app/main.py"]}})
        self.assertEqual(AgentTool.warmup.__mvm__["name"], "warmup")
        self.assertEqual(AgentTool.warmup.__mvm__["options"]["timeout_seconds"], 5)
        self.assertEqual(AgentTool.api.__mvm__, {
            "kind": "service", "name": "api",
            "options": {"command": ["python", "-m", "http.server", "8080"], "port": 8080}})
        # The methods are the plain functions: calling them is unaffected.
        tool = AgentTool()
        self.assertEqual((tool.main(), tool.warmup(), tool.api()), ("main", "warmup", "api"))

    def test_id_keyword(self):
        @workload(id="by-keyword", image="template:busybox")
        def f():
            pass

        self.assertEqual(f.__mvm__["name"], "by-keyword")
        self.assertEqual(f.__mvm__["options"], {"image": "template:busybox"})

    def test_bare_forms(self):
        @workload
        class NoArgs:
            @entrypoint
            def run(self):
                pass

            @service
            def serve(self):
                pass

        self.assertEqual(NoArgs.__mvm__, {"kind": "workload", "name": None, "options": {}})
        self.assertEqual(NoArgs.run.__mvm__, {"kind": "entrypoint", "name": "run", "options": {}})
        self.assertEqual(NoArgs.serve.__mvm__, {"kind": "service", "name": "serve", "options": {}})

    def test_empty_call_and_name_keyword(self):
        class C:
            @entrypoint()
            def a(self):
                pass

            @service(name="named", port=1)
            def b(self):
                pass

        self.assertEqual(C.a.__mvm__, {"kind": "entrypoint", "name": "a", "options": {}})
        self.assertEqual(C.b.__mvm__, {"kind": "service", "name": "named", "options": {"port": 1}})

    def test_options_hold_only_what_was_declared_and_are_not_shared(self):
        shared = entrypoint(command=["x"])

        def one():
            pass

        def two():
            pass

        shared(one)
        shared(two)
        one.__mvm__["options"]["command"] = ["changed"]
        self.assertEqual(two.__mvm__["options"], {"command": ["x"]})
        self.assertEqual(two.__mvm__["name"], "two")

    def test_more_than_one_positional_argument_is_refused(self):
        with self.assertRaises(TypeError):
            entrypoint("a", "b")

    def test_exports(self):
        self.assertEqual(
            sorted(mvm.__all__),
            sorted(["workload", "entrypoint", "service", "NetworkPolicy", "SecretRef", "Volume",
                    "Image", "Sandbox", "CommandResult", "CommandHandle", "FileEntry", "Snapshot",
                    "SandboxError", "TimeoutError", "VerificationError", "Service",
                    "ServiceInfo", "PublishedPort", "VolumeFiles", "VolumeEntry"]))
        for name in mvm.__all__:
            self.assertTrue(hasattr(mvm, name), name)
        self.assertEqual(mvm.__version__, "0.1.0")


class ServiceTest(unittest.TestCase):
    def test_options_not_given_stay_unset(self):
        svc = mvm.Service("api", ["httpd", "-f"])
        self.assertEqual((svc.name, svc.command, svc.port, svc.restart, svc.max_restarts),
                         ("api", ("httpd", "-f"), None, None, None))
        full = mvm.Service("api", ["x"], port=0, restart="never", max_restarts=0)
        self.assertEqual((full.port, full.restart, full.max_restarts), (0, "never", 0))

    def test_a_string_command_is_refused(self):
        with self.assertRaisesRegex(TypeError, "a Service command is a list"):
            mvm.Service("api", "httpd -f")

    def test_options_are_keyword_only(self):
        with self.assertRaises(TypeError):
            mvm.Service("api", ["x"], 8080)


class ImageTest(unittest.TestCase):
    def test_debian_keeps_packages_in_order_and_defaults_the_suite(self):
        image = mvm.Image.debian(["jq", "python3-yaml"])
        self.assertEqual((image.kind, image.suite, image.packages),
                         ("debian", "bookworm", ("jq", "python3-yaml")))
        self.assertEqual(mvm.Image.debian([], suite="trixie").suite, "trixie")

    def test_a_string_of_packages_is_refused_not_split_into_letters(self):
        with self.assertRaises(TypeError) as caught:
            mvm.Image.debian("jq")
        self.assertIn("['jq']", str(caught.exception))


class NetworkPolicyTest(unittest.TestCase):
    def test_chain_is_immutable(self):
        base = NetworkPolicy.deny_by_default()
        https = base.allow_https("api.openai.com", "*.example.org")
        full = https.allow_http("mirror.example.org").allow_dns()
        self.assertEqual(base.rules, ())
        self.assertFalse(base.dns)
        self.assertEqual(https.rules, (("https", "api.openai.com"), ("https", "*.example.org")))
        self.assertFalse(https.dns)
        self.assertEqual(full.rules, (("https", "api.openai.com"), ("https", "*.example.org"),
                                      ("http", "mirror.example.org")))
        self.assertTrue(full.dns)
        with self.assertRaises(dataclasses.FrozenInstanceError):
            full.dns = False
        self.assertEqual(base, NetworkPolicy.deny_by_default())
        self.assertEqual(hash(full), hash(https.allow_http("mirror.example.org").allow_dns()))


class SecretRefTest(unittest.TestCase):
    def test_names_a_secret_and_its_hosts(self):
        ref = SecretRef("openai-api-key", hosts=["api.openai.com"])
        self.assertEqual(ref.name, "openai-api-key")
        self.assertEqual(ref.hosts, ("api.openai.com",))
        self.assertEqual(SecretRef("x").hosts, ())
        self.assertEqual(ref, SecretRef("openai-api-key", hosts=("api.openai.com",)))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            ref.name = "other"

    def test_hosts_are_keyword_only(self):
        with self.assertRaises(TypeError):
            SecretRef("x", ["api.openai.com"])


class VolumeTest(unittest.TestCase):
    def test_local(self):
        v = Volume.local("./data", "/data", mode="rw")
        self.assertEqual((v.kind, v.source, v.target, v.mode, v.size_mb),
                         ("local", "./data", "/data", "rw", None))
        self.assertIsNone(Volume.local("./data", "/data").mode, "undeclared stays undeclared")

    def test_memory(self):
        v = Volume.memory("/scratch", size_mb=256)
        self.assertEqual((v.kind, v.source, v.target, v.mode, v.size_mb),
                         ("memory", None, "/scratch", None, 256))
        self.assertIsNone(Volume.memory("/scratch").size_mb)
        with self.assertRaises(TypeError):
            Volume.memory("/scratch", 256)  # size_mb is keyword-only, as in declarations
        with self.assertRaises(dataclasses.FrozenInstanceError):
            v.target = "/elsewhere"

    def test_encrypted(self):
        v = Volume.encrypted("notes", "/notes", size_mb=512)
        self.assertEqual((v.kind, v.source, v.target, v.mode, v.size_mb),
                         ("encrypted", "notes", "/notes", None, 512))
        with self.assertRaises(TypeError):
            Volume.encrypted("notes", "/notes")  # size_mb is required
        with self.assertRaises(TypeError):
            Volume.encrypted("notes", "/notes", 512)  # and keyword-only, as in declarations

    def test_object(self):
        keys = SecretRef("datasets-keys")
        v = Volume.object("s3://datasets/run-1", "/datasets", endpoint="https://s3.example.com",
                          credentials=keys)
        self.assertEqual((v.kind, v.source, v.target, v.mode, v.endpoint, v.credentials),
                         ("object", "s3://datasets/run-1", "/datasets", None,
                          "https://s3.example.com", keys))
        self.assertEqual(Volume.object("s3://b1b", "/b", endpoint="https://e", credentials=keys,
                                       mode="rw").mode, "rw")

    def test_object_credentials_are_a_secret_ref_never_the_keys(self):
        with self.assertRaises(TypeError) as caught:
            Volume.object("s3://b1b", "/b", endpoint="https://e",
                          credentials="AKIAEXAMPLE:wJalrXUtnFEMI")
        self.assertIn("SecretRef", str(caught.exception))
        self.assertNotIn("AKIAEXAMPLE", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
