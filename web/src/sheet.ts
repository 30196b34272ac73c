/**
 * The side panel as a bottom sheet on narrow screens: peek (its tabs), half, or full height, set
 * by tapping or dragging its handle; opening an image or a tab raises it to half. On wide screens
 * the CSS ignores the state (the panel is a column beside the map).
 */
import { h } from './dom.js';

export type SheetState = 'peek' | 'half' | 'full';

const NARROW = '(max-width: 759px)';

export class Sheet {
  readonly handle = h('button.sheet-handle', { type: 'button', 'aria-label': 'resize the panel' });
  private current: SheetState = 'peek';

  constructor(private readonly side: HTMLElement) {
    this.apply();
    let drag: { y: number; height: number; moved: boolean } | null = null;
    this.handle.addEventListener('pointerdown', (e) => {
      this.handle.setPointerCapture(e.pointerId);
      drag = { y: e.clientY, height: this.side.getBoundingClientRect().height, moved: false };
    });
    this.handle.addEventListener('pointermove', (e) => {
      if (!drag) return;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dy) < 6) return;
      drag.moved = true;
      this.side.classList.add('dragging');
      const max = this.side.parentElement!.getBoundingClientRect().height;
      this.side.style.height = `${Math.min(max, Math.max(60, drag.height - dy))}px`;
    });
    const end = (): void => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      this.side.classList.remove('dragging');
      if (!moved) {
        this.set(this.current === 'peek' ? 'half' : 'peek');
        return;
      }
      // snap to the nearest state
      const height = this.side.getBoundingClientRect().height;
      const max = this.side.parentElement!.getBoundingClientRect().height;
      this.side.style.height = '';
      const f = height / max;
      this.set(f < 0.3 ? 'peek' : f < 0.78 ? 'half' : 'full');
    };
    this.handle.addEventListener('pointerup', end);
    this.handle.addEventListener('pointercancel', end);
    // a click from the keyboard (Enter / Space) has no pointer events
    this.handle.addEventListener('click', (e) => {
      if (e.detail === 0) this.set(this.current === 'peek' ? 'half' : 'peek');
    });
  }

  get state(): SheetState {
    return this.current;
  }

  get narrow(): boolean {
    return matchMedia(NARROW).matches;
  }

  set(s: SheetState): void {
    this.current = s;
    this.apply();
  }

  /** Raised to at least half height (showing an image, opening a tab). */
  open(): void {
    if (this.current === 'peek') this.set('half');
  }

  private apply(): void {
    this.side.dataset['sheet'] = this.current;
    this.handle.setAttribute('aria-expanded', String(this.current !== 'peek'));
    this.handle.title = this.current === 'peek' ? 'show the panel (drag to resize)' : 'lower the panel (drag to resize)';
  }
}
