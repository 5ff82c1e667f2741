"""Code generated from demo_worker namespace. Please do not edit."""

#ruff: noqa: F821
from typing import Literal, NamedTuple, Sequence, TypeVar, Generic, Protocol, Union
from types import NoneType
from tierkreis.controller.data.models import TKR, OpaqueType
from tierkreis.controller.data.types import PType, Struct, Workflow


class Stats(NamedTuple):
    mean: TKR[float]
    stdev: TKR[float]


class greet(NamedTuple):
    greeting: TKR[str]
    subject: TKR[str]

    @staticmethod
    def out() -> type[TKR[str]]:
        return TKR[str]

    @property
    def namespace(self) -> str:
        return "demo_worker" 

class stats(NamedTuple):
    values: TKR[list[float]]
    scale: TKR[float] | None = None 

    @staticmethod
    def out() -> type[Stats]:
        return Stats

    @property
    def namespace(self) -> str:
        return "demo_worker" 

class misc(NamedTuple):
    a: TKR[int]
    b: TKR[bytes]
    c: TKR[dict[str, list[int]]]
    d: TKR[Union[bool, NoneType]] | None = None 
    e: TKR[Union[int, NoneType]] | None = None 

    @staticmethod
    def out() -> type[TKR[list[bytes]]]:
        return TKR[list[bytes]]

    @property
    def namespace(self) -> str:
        return "demo_worker" 

class nothing(NamedTuple):
    a: TKR[int]

    @staticmethod
    def out() -> type[TKR[NoneType]]:
        return TKR[NoneType]

    @property
    def namespace(self) -> str:
        return "demo_worker" 
