"""CliCase: a TestCase that parses run.sh's command lines from the
checkout (as ./run.sh does, in it) and checks refusals by their text."""
import os
import unittest

from recpath import REPO
from c1m import cli


class CliCase(unittest.TestCase):
    def setUp(self):
        self.cwd = os.getcwd()
        os.chdir(REPO)

    def tearDown(self):
        os.chdir(self.cwd)

    def parse(self, *argv):
        return cli.parse(list(argv), REPO)

    def refused(self, want, *argv):
        with self.assertRaises(cli.Refused) as e:
            self.parse(*argv)
        self.assertIn(want, str(e.exception))
