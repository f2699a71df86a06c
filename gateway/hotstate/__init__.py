"""Hot state shared by every gateway process: Redis, or in-process for the embedded default."""

from gateway.hotstate.base import HotState
from gateway.hotstate.keys import Key, Keyspace
from gateway.hotstate.memory import MemoryHotState
from gateway.hotstate.redis import RedisHotState

__all__ = ["HotState", "Key", "Keyspace", "MemoryHotState", "RedisHotState"]
