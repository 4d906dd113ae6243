//! Grid thumbnails as GPU textures: decoded on worker threads (visible first), uploaded once,
//! and evicted least-recently-used when the byte budget is exceeded.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::index::{Thumbnail, thumbnail};
use crate::jobs::WorkerPool;

/// Longest side of a decoded thumbnail.
pub const THUMB_DECODE_PX: u32 = 160;
/// Textures uploaded per frame at most, so a burst of results never stalls a frame.
const UPLOADS_PER_FRAME: usize = 48;

/// Paints `texture` as large as fits in `rect`, aspect kept, centred; returns where it went.
pub fn paint_fitted(
    painter: &egui::Painter,
    texture: &egui::TextureHandle,
    rect: egui::Rect,
) -> egui::Rect {
    let size = texture.size_vec2();
    let scale = (rect.width() / size.x).min(rect.height() / size.y);
    let fitted = egui::Rect::from_center_size(rect.center(), size * scale);
    let uv = egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0));
    painter.image(texture.id(), fitted, uv, egui::Color32::WHITE);
    fitted
}

/// One thumbnail to decode: which dataset (generation), which example, which file.
#[derive(Clone)]
struct Request {
    generation: u64,
    index: usize,
    path: PathBuf,
}

/// What the grid shows for one cell.
pub enum ThumbState {
    Ready(egui::TextureHandle),
    Loading,
    Failed(String),
}

struct Entry {
    texture: egui::TextureHandle,
    bytes: usize,
    last_used_frame: u64,
}

struct CacheInner {
    generation: u64,
    frame: u64,
    textures: HashMap<usize, Entry>,
    failed: HashMap<usize, String>,
    pending: HashSet<usize>,
    requested_this_frame: HashSet<usize>,
    bytes: usize,
}

/// Texture cache with a byte budget, fed by a pool of decode workers.
pub struct ThumbnailCache {
    inner: RefCell<CacheInner>,
    pool: WorkerPool<Request, Result<Thumbnail, String>>,
    budget_bytes: usize,
}

impl ThumbnailCache {
    /// A cache holding at most `budget_bytes` of pixels; workers call `repaint` when they finish.
    pub fn new(budget_bytes: usize, repaint: Arc<dyn Fn() + Send + Sync>) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool = WorkerPool::new("thumbnail", threads, repaint, |request: &Request| {
            thumbnail(&request.path, THUMB_DECODE_PX).map_err(|e| e.message)
        });
        let inner = CacheInner {
            generation: 0,
            frame: 0,
            textures: HashMap::new(),
            failed: HashMap::new(),
            pending: HashSet::new(),
            requested_this_frame: HashSet::new(),
            bytes: 0,
        };
        ThumbnailCache {
            inner: RefCell::new(inner),
            pool,
            budget_bytes,
        }
    }

    /// Forgets every thumbnail: a new dataset was opened.
    pub fn reset(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.generation += 1;
        inner.textures.clear();
        inner.failed.clear();
        inner.pending.clear();
        inner.bytes = 0;
        self.pool.retain(|_| false);
    }

    /// The thumbnail of example `index`, queuing its decode if needed.
    pub fn get(&self, index: usize, path: impl FnOnce() -> PathBuf) -> ThumbState {
        let mut inner = self.inner.borrow_mut();
        let frame = inner.frame;
        inner.requested_this_frame.insert(index);
        if let Some(entry) = inner.textures.get_mut(&index) {
            entry.last_used_frame = frame;
            return ThumbState::Ready(entry.texture.clone());
        }
        if let Some(error) = inner.failed.get(&index) {
            return ThumbState::Failed(error.clone());
        }
        if inner.pending.insert(index) {
            self.pool.request(Request {
                generation: inner.generation,
                index,
                path: path(),
            });
        }
        ThumbState::Loading
    }

    /// Uploads finished thumbnails; call once per frame before drawing.
    pub fn begin_frame(&self, ctx: &egui::Context) {
        let mut inner = self.inner.borrow_mut();
        inner.frame += 1;
        inner.requested_this_frame.clear();
        for _ in 0..UPLOADS_PER_FRAME {
            let Some((request, result)) = self.pool.try_recv() else {
                break;
            };
            if request.generation != inner.generation {
                continue;
            }
            inner.pending.remove(&request.index);
            match result {
                Ok(thumb) => {
                    let image = egui::ColorImage::from_rgba_unmultiplied(
                        [thumb.width as usize, thumb.height as usize],
                        &thumb.rgba,
                    );
                    let texture = ctx.load_texture(
                        format!("thumb-{}", request.index),
                        image,
                        egui::TextureOptions::LINEAR,
                    );
                    let frame = inner.frame;
                    inner.bytes += thumb.bytes();
                    inner.textures.insert(
                        request.index,
                        Entry {
                            texture,
                            bytes: thumb.bytes(),
                            last_used_frame: frame,
                        },
                    );
                }
                Err(message) => {
                    inner.failed.insert(request.index, message);
                }
            }
        }
        if !inner.pending.is_empty() {
            ctx.request_repaint_after(std::time::Duration::from_millis(50));
        }
    }

    /// Drops queued decodes for cells no longer visible and evicts over budget; call after drawing.
    pub fn end_frame(&self) {
        let mut inner = self.inner.borrow_mut();
        let visible = inner.requested_this_frame.clone();
        let generation = inner.generation;
        self.pool
            .retain(|r| r.generation == generation && visible.contains(&r.index));
        inner.pending.retain(|i| visible.contains(i));
        if inner.bytes > self.budget_bytes {
            let current = inner.frame;
            let mut by_age: Vec<(u64, usize)> = inner
                .textures
                .iter()
                .filter(|(_, e)| e.last_used_frame < current)
                .map(|(i, e)| (e.last_used_frame, *i))
                .collect();
            by_age.sort_unstable();
            for (_, index) in by_age {
                if inner.bytes <= self.budget_bytes {
                    break;
                }
                if let Some(entry) = inner.textures.remove(&index) {
                    inner.bytes -= entry.bytes;
                }
            }
        }
    }

    /// Bytes of pixels held by textures now.
    pub fn bytes(&self) -> usize {
        self.inner.borrow().bytes
    }

    /// Number of thumbnails uploaded now.
    pub fn len(&self) -> usize {
        self.inner.borrow().textures.len()
    }

    /// True when no thumbnail is uploaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
