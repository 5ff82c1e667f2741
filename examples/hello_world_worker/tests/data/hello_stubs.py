"""Code generated from hello_world_worker namespace. Please do not edit."""

#ruff: noqa: F821
from typing import Literal, NamedTuple, Sequence, TypeVar, Generic, Protocol, Union
from types import NoneType
from tierkreis.controller.data.models import TKR, OpaqueType
from tierkreis.controller.data.types import PType, Struct, Workflow



class greet(NamedTuple):
    greeting: TKR[str]
    subject: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "hello_world_worker" 
