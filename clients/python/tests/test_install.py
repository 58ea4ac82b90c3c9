"""`pip install ./clients/python` works (pyproject.toml, setuptools), offline.

Uses the pip of the interpreter running the tests (Debian: python3-pip,
python3-setuptools) without build isolation, so nothing is downloaded.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE_ROOT = os.path.dirname(HERE)


class PipInstall(unittest.TestCase):
    def test_pip_install_gives_an_importable_package_and_its_cli(self):
        with tempfile.TemporaryDirectory(prefix="actorq-pip-") as tmp:
            # Built from a copy: setuptools writes an egg-info next to the
            # sources, which must not land in the checkout.
            source = os.path.join(tmp, "src")
            shutil.copytree(PACKAGE_ROOT, source,
                            ignore=shutil.ignore_patterns("tests", "*.egg-info",
                                                          "__pycache__", "build"))
            target = os.path.join(tmp, "site")
            os.mkdir(target)
            env = dict(os.environ)
            env.pop("PYTHONPATH", None)
            env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
            env["PIP_NO_INDEX"] = "1"
            build = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--no-build-isolation",
                 "--no-deps", "--target", target, source],
                capture_output=True, text=True, env=env, cwd=target, timeout=120)
            self.assertEqual(build.returncode, 0, build.stdout + build.stderr)
            self.assertTrue(os.path.isdir(os.path.join(target, "actorq")))
            env["PYTHONPATH"] = target
            probe = subprocess.run(
                [sys.executable, "-c",
                 "import actorq, sys; print(actorq.__file__); "
                 "print(actorq.Worker, actorq.Client, actorq.Permanent)"],
                capture_output=True, text=True, env=env, cwd=target, timeout=60)
            self.assertEqual(probe.returncode, 0, probe.stderr)
            self.assertTrue(probe.stdout.startswith(os.path.join(target, "actorq")),
                            probe.stdout)
            cli = subprocess.run([sys.executable, "-m", "actorq", "--help"],
                                 capture_output=True, text=True, env=env, cwd=target,
                                 timeout=60)
            self.assertEqual(cli.returncode, 0, cli.stderr)
            self.assertIn("submit", cli.stdout)


if __name__ == "__main__":
    unittest.main()
