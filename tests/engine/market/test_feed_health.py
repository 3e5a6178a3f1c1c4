"""Feed health per symbol: auto-trading follows the traded symbol's feed (and the whole
venue's), so a reference symbol recovering does not resume trading on a stale traded one."""

from engine.core.clock import EventClock
from engine.core.enums import FeedState
from engine.core.events import FeedStatus
from engine.market.state import MarketState


def test_each_symbol_has_its_own_feed_state_under_the_venues():
    m = MarketState(("ETH/USDT", "BTC/USDT"), EventClock())
    assert m.feed_of("ETH/USDT") is FeedState.STARTING and not m.feed_of("ETH/USDT").healthy
    m.apply(FeedStatus(1, FeedState.CONNECTED, "venue"))
    m.apply(FeedStatus(2, FeedState.STALE, "ETH/USDT: no data for 5.1s", "ETH/USDT"))
    m.apply(FeedStatus(3, FeedState.STALE, "BTC/USDT: no data for 5.2s", "BTC/USDT"))
    m.apply(FeedStatus(4, FeedState.RECOVERED, "BTC/USDT: data again", "BTC/USDT"))
    assert not m.feed_of("ETH/USDT").healthy and m.feed_of("BTC/USDT").healthy
    assert m.feed_state is FeedState.RECOVERED and m.feed_detail == "BTC/USDT: data again"  # the last one, shown
    m.apply(FeedStatus(5, FeedState.RECOVERED, "ETH/USDT: data again", "ETH/USDT"))
    assert m.feed_of("ETH/USDT").healthy
    m.apply(FeedStatus(6, FeedState.RECONNECTING, "retry 1"))  # the venue as a whole
    assert not m.feed_of("ETH/USDT").healthy and not m.feed_of("BTC/USDT").healthy
    m.apply(FeedStatus(7, FeedState.GAP, "ETH/USDT: sequence_gap", "ETH/USDT"))
    m.apply(FeedStatus(8, FeedState.RECOVERED, "back"))  # venue-wide recovery supersedes the symbols' states
    assert m.feed_of("ETH/USDT") is FeedState.RECOVERED
    m.announce(FeedState.ENDED, "end of recorded data")
    assert m.feed_of("BTC/USDT") is FeedState.ENDED
