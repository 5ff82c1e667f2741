"""Code generated from numerics_worker namespace. Please do not edit."""

#ruff: noqa: F821
from typing import Literal, NamedTuple, Sequence, TypeVar, Generic, Protocol, Union
from types import NoneType
from tierkreis.controller.data.models import TKR, OpaqueType
from tierkreis.controller.data.types import PType, Struct, Workflow


class Stats(NamedTuple):
    mean: TKR[float]
    stdev: TKR[float]


class fibonacci(NamedTuple):
    n: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "numerics_worker" 

class stats(NamedTuple):
    values: TKR[list[float]]
    sample: TKR[bool] | None = None 

    @staticmethod
    def out() -> type[Stats]:
        return Stats

    @property
    def namespace(self) -> str:
        return "numerics_worker" 

class primes_below(NamedTuple):
    n: TKR[int]

    @staticmethod
    def out() -> type[TKR[list[int]]]:
        return TKR[list[int]]

    @property
    def namespace(self) -> str:
        return "numerics_worker" 

class square(NamedTuple):
    x: TKR[int]

    @staticmethod
    def out() -> type[TKR[int]]:
        return TKR[int]

    @property
    def namespace(self) -> str:
        return "numerics_worker" 
