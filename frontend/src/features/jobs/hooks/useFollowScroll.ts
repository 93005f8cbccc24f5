import { useCallback, useLayoutEffect, useRef, useState, type RefObject } from "react";

/**
 * "Follow" for a growing, scrollable list: while on, every change of `count` scrolls to the
 * bottom; scrolling up turns it off, scrolling back down to the bottom turns it on again.
 */
export function useFollowScroll(scrollRef: RefObject<HTMLElement | null>, count: number) {
  const [follow, setFollow] = useState(true);
  const lastTop = useRef(0);

  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!follow || !element) return;
    element.scrollTop = element.scrollHeight;
    lastTop.current = element.scrollTop;
  }, [follow, count, scrollRef]);

  const onScroll = useCallback(() => {
    const element = scrollRef.current;
    if (!element) return;
    const top = element.scrollTop;
    const atBottom = element.scrollHeight - top - element.clientHeight <= 4;
    if (top < lastTop.current - 2 && !atBottom) setFollow(false);
    else if (atBottom && top > lastTop.current) setFollow(true);
    lastTop.current = top;
  }, [scrollRef]);

  /** Jump to the end and follow from there ("Tail"). */
  const tail = useCallback(() => {
    const element = scrollRef.current;
    if (element) {
      element.scrollTop = element.scrollHeight;
      lastTop.current = element.scrollTop;
    }
    setFollow(true);
  }, [scrollRef]);

  return { follow, setFollow, onScroll, tail };
}
