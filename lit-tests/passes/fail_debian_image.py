# Every diagnostic of `Image.debian`, at the value it is about: package names against Debian policy
# (case, length, first character, versions and other apt syntax mvm pins itself), a name listed
# twice, the suite allow-list, a missing `packages=`, an unknown option, and the bound on the count.
# RUN: not %mvmctl check %s 2>&1 | FileCheck %s --strict-whitespace
# RUN: not %mvmctl check --format=json %s | FileCheck %s --check-prefix=JSON
from mvm import Image, workload, entrypoint

MANY = ["pkg-00", "pkg-01", "pkg-02", "pkg-03", "pkg-04", "pkg-05", "pkg-06",
        "pkg-07", "pkg-08", "pkg-09", "pkg-10", "pkg-11", "pkg-12", "pkg-13", "pkg-14", "pkg-15",
        "pkg-16", "pkg-17", "pkg-18", "pkg-19", "pkg-20", "pkg-21", "pkg-22", "pkg-23", "pkg-24",
        "pkg-25", "pkg-26", "pkg-27", "pkg-28", "pkg-29", "pkg-30", "pkg-31", "pkg-32", "pkg-33",
        "pkg-34", "pkg-35", "pkg-36", "pkg-37", "pkg-38", "pkg-39", "pkg-40", "pkg-41", "pkg-42",
        "pkg-43", "pkg-44", "pkg-45", "pkg-46", "pkg-47", "pkg-48", "pkg-49", "pkg-50", "pkg-51",
        "pkg-52", "pkg-53", "pkg-54", "pkg-55", "pkg-56", "pkg-57", "pkg-58", "pkg-59", "pkg-60",
        "pkg-61", "pkg-62", "pkg-63", "pkg-64"]

@workload("names", image=Image.debian(packages=["Jq", "j", "-o", "jq=1.6", "jq,curl", "jq", "jq"]))
class Names:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("suite", image=Image.debian(packages=["jq"], suite="bookwrom"))
class Suite:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("missing", image=Image.debian(suite="bookworm"))
class Missing:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("typo", image=Image.debian(packges=["jq"]))
class Typo:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("many", image=Image.debian(packages=MANY))
class Many:
    @entrypoint(command=["true"])
    def main(self): ...

@workload("shape", image=Image.debian(packages="jq"))
class Shape:
    @entrypoint(command=["true"])
    def main(self): ...

# CHECK:      fail_debian_image.py:17:49: error: invalid Debian package name `Jq`: package names are lowercase [invalid-package-name]
# CHECK-NEXT: {{^}}@workload("names", image=Image.debian(packages=["Jq", "j", "-o", "jq=1.6", "jq,curl", "jq", "jq"])){{$}}
# CHECK-NEXT: {{^}}                                                ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: write the binary package's name as `apt-cache show` lists it, such as `python3-yaml`{{$}}
# CHECK:      fail_debian_image.py:17:55: error: invalid Debian package name `j`: a package name has at least two characters [invalid-package-name]
# CHECK:      fail_debian_image.py:17:60: error: invalid Debian package name `-o`: a package name starts with a lowercase letter or a digit [invalid-package-name]
# CHECK:      fail_debian_image.py:17:66: error: invalid Debian package name `jq=1.6`: a name alone, without a version, suite or architecture: mvm pins the versions itself when it resolves the package set [invalid-package-name]
# CHECK:      fail_debian_image.py:17:76: error: invalid Debian package name `jq,curl`: a package name is lowercase letters, digits, `+`, `-` and `.` [invalid-package-name]
# CHECK:      fail_debian_image.py:17:93: error: package `jq` is listed more than once [duplicate-package]
# CHECK-NEXT: {{^}}@workload("names", image=Image.debian(packages=["Jq", "j", "-o", "jq=1.6", "jq,curl", "jq", "jq"])){{$}}
# CHECK-NEXT: {{^}}                                                                                            ^~~~{{$}}
# CHECK-NEXT: {{^}}  hint: remove the repeated name{{$}}
# CHECK:      fail_debian_image.py:22:62: error: invalid `suite` value `bookwrom`: expected `bookworm` [invalid-value]
# CHECK:      {{^}}  hint: did you mean `bookworm`?{{$}}
# CHECK:      fail_debian_image.py:27:28: error: `Image.debian` needs `packages` [missing-option]
# CHECK:      fail_debian_image.py:32:38: error: unknown option `packges` for `Image.debian` [unknown-option]
# CHECK:      {{^}}  hint: did you mean `packages`?{{$}}
# CHECK:      fail_debian_image.py:37:47: error: `Image.debian` lists 65 packages, more than 64 [too-many-packages]
# CHECK:      fail_debian_image.py:42:48: error: `packages` expects a list of strings, got a string [type-mismatch]
# CHECK:      11 errors generated.

# JSON: "code":"MVM2014","kind":"invalid-package-name"
# JSON: "code":"MVM2016","kind":"duplicate-package"
# JSON: "code":"MVM2015","kind":"too-many-packages"
