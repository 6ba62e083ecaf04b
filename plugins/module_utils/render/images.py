# -*- coding: utf-8 -*-
# Copyright: contributors to tmc.multicluster
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container image references: parse, format, and the image override's rewrite."""

from __future__ import annotations

import re
from typing import NamedTuple

_DOCKER_HUB = frozenset({"", "docker.io", "index.docker.io", "registry-1.docker.io"})


class ImageRef(NamedTuple):
    """A parsed container image reference.

    registry is "" when the reference names none (Docker Hub implied); tag and digest
    are "" when absent. repository is the path as written ("nginx", not "library/nginx").
    """

    registry: str
    repository: str
    tag: str
    digest: str

    def __str__(self) -> str:
        return format_image(self)


PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
HOST_RE = re.compile(
    r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
    r"(?::[0-9]+)?$"
)


def _is_registry(component: str) -> bool:
    # The Docker reference grammar: the first path component is a registry host when it
    # looks like one (a dot, a port, "localhost") or has capitals, which a repository cannot.
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def check_repository(repository: str, image: str) -> None:
    if not repository:
        raise ValueError(f"image {image!r} has no repository name")
    for part in repository.split("/"):
        if not PATH_COMPONENT_RE.match(part):
            raise ValueError(
                f"image {image!r}: repository component {part!r} must be lowercase letters and digits "
                "separated by '.', '_', '__' or '-'"
            )


def parse_image(image: str) -> ImageRef:
    """Parse ``[registry/]repository[:tag][@digest]``; raise ValueError when it is not one."""
    if not isinstance(image, str) or not image or image != image.strip():
        raise ValueError(f"image {image!r} is not an image reference")
    name, at, digest = image.partition("@")
    if at and not _DIGEST_RE.match(digest):
        raise ValueError(f"image {image!r}: digest {digest!r} is not algorithm:hex")
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1 :]
        if not TAG_RE.match(tag):
            raise ValueError(f"image {image!r}: tag {tag!r} is not a valid tag")
    registry, slash, rest = name.partition("/")
    if slash and _is_registry(registry):
        if not HOST_RE.match(registry):
            raise ValueError(f"image {image!r}: registry {registry!r} is not a host[:port]")
        repository = rest
    else:
        registry, repository = "", name
    check_repository(repository, image)
    return ImageRef(registry, repository, tag, digest)


def format_image(ref: ImageRef) -> str:
    text = f"{ref.registry}/{ref.repository}" if ref.registry else ref.repository
    if ref.tag:
        text += f":{ref.tag}"
    if ref.digest:
        text += f"@{ref.digest}"
    return text


def rewrite_image(
    image: str, registry: str | None = None, repository: str | None = None, tag: str | None = None
) -> str:
    """Apply an image override to one reference; None or "" leaves that part as it is.

    - registry replaces the host; it may carry a path prefix ("harbor.example.com/hub-proxy").
      A Docker Hub official image ("nginx", "docker.io/nginx") moved to another registry
      becomes "<registry>/library/nginx", the path Docker Hub serves it under and mirrors
      expect. An image already under the registry (prefix) is left as it is.
    - repository replaces the whole path.
    - tag sets the tag and drops a digest: a digest pins the content, so a new tag beside
      it would have no effect.
    An unchanged reference is returned exactly as written.
    """
    ref = parse_image(image)
    new_registry, new_repository, new_tag, new_digest = ref
    if registry:
        path = f"{ref.registry}/{ref.repository}" if ref.registry else ref.repository
        if path.startswith(registry + "/"):
            # Already there (e.g. rendered before): keep, so rewriting is idempotent.
            new_registry, new_repository = registry, path[len(registry) + 1 :]
        else:
            new_registry = registry
            if ref.registry in _DOCKER_HUB and "/" not in ref.repository and registry not in _DOCKER_HUB:
                new_repository = "library/" + ref.repository
    if repository:
        new_repository = repository
    if tag:
        new_tag, new_digest = tag, ""
    new = ImageRef(new_registry, new_repository, new_tag, new_digest)
    return image if new == ref else format_image(new)
